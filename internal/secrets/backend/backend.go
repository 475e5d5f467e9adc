// Package backend is the seam between the secrets context and the stores
// that hold secret values: OpenBao KV v2 in production
// (internal/secrets/openbao) and the sealed embedded store for a control
// plane without OpenBao (internal/secrets/embedded). Both pass the one
// compliance suite in backendtest.
//
// plexsphere's database keeps names, versions and bindings; a backend keeps
// values, versioned from 1. Nothing here logs or wraps a value in an error.
package backend

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Errors a backend returns, wrapped with context; callers test them with
// errors.Is. None carries a value.
var (
	// ErrNotFound: no secret at the path (never written, or deleted).
	ErrNotFound = errors.New("secret not found")
	// ErrVersionNotFound: the secret exists but not that version, or the
	// version was destroyed.
	ErrVersionNotFound = errors.New("secret version not found")
	// ErrConflict: a check-and-set write found another current version.
	ErrConflict = errors.New("secret version conflict")
	// ErrUnavailable: the backend cannot answer now (sealed, down,
	// unreachable, rate limited); the caller may retry.
	ErrUnavailable = errors.New("secret backend unavailable")
	// ErrDenied: the backend refused plexsphere's own credentials (a
	// misconfiguration, not the caller's fault).
	ErrDenied = errors.New("secret backend denied the request")
)

// MaxValue bounds one value (the API takes at most 512 KiB decoded).
const MaxValue = 512 << 10

// Path names one secret: the Domain and Project it belongs to and its name.
// Every backend maps it to its own layout (docs/secrets.md).
type Path struct {
	DomainID, ProjectID, Name string
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
)

// ValidName reports whether name is a secret name (api.md: lower-case
// letter first, then letters, digits, '_' and '-', at most 63).
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Check returns an error when p cannot name a secret; a backend calls it
// before p becomes part of a URL or key.
func (p Path) Check() error {
	switch {
	case !idRE.MatchString(p.DomainID):
		return fmt.Errorf("backend: bad domain id %q", p.DomainID)
	case !idRE.MatchString(p.ProjectID):
		return fmt.Errorf("backend: bad project id %q", p.ProjectID)
	case !ValidName(p.Name):
		return fmt.Errorf("backend: bad secret name %q", p.Name)
	}
	return nil
}

// String is the path in the layout both backends share below their root:
// <domain>/<project>/<name>.
func (p Path) String() string { return p.DomainID + "/" + p.ProjectID + "/" + p.Name }

// Value is one version of a secret.
type Value struct {
	Data    []byte
	Version int64
}

// Version describes one version without its value.
type Version struct {
	Version     int64
	CreatedAt   time.Time
	DestroyedAt time.Time // zero while the value exists
}

// Metadata is what a backend knows of a secret without reading a value.
type Metadata struct {
	// Current is the newest version (0 when none is left).
	Current  int64
	Versions []Version // oldest first
}

// PutOptions qualify a write.
type PutOptions struct {
	// CAS, when not nil, makes the write conditional: *CAS is the current
	// version the writer expects (0 = the secret must not exist yet).
	CAS *int64
}

// Backend stores secret values. Implementations are safe for concurrent
// use; every method takes a context that bounds the call.
type Backend interface {
	// Put writes data as the next version and returns its number.
	Put(ctx context.Context, p Path, data []byte, o PutOptions) (int64, error)
	// Get reads version (0 = current).
	Get(ctx context.Context, p Path, version int64) (Value, error)
	// Metadata reads the versions, never a value.
	Metadata(ctx context.Context, p Path) (Metadata, error)
	// Delete destroys every version and the metadata.
	Delete(ctx context.Context, p Path) error
}

// Named is a backend that names itself in health checks and logs
// ("openbao", "embedded").
type Named interface {
	Name() string
}
