// Package openbao is the OpenBao secret backend (docs/design/0007-secrets.md)
// and the OpenBao Transit key manager that wraps the master key, both on the
// official client github.com/openbao/openbao/api/v2.
//
// Values live in KV v2 at <KVMount>/data/<Prefix>/<domain>/<project>/<name>,
// base64 in the data field value_b64 so any bytes round-trip; a version an
// operator wrote by hand with a plain string field value is read too.
// Versions are KV versions. Delete destroys every version (DELETE
// <KVMount>/metadata/…).
//
// Authentication is a token, a token file (re-read when OpenBao refuses the
// token, so an agent may rotate it) or AppRole (logged in at start and again
// when OpenBao refuses the token). OpenBao answers 403 "permission denied"
// alike for an expired token and for a missing policy, so any 403 triggers
// one refresh and one retry; a second 403 is ErrDenied.
//
// The client does not retry on its own (beyond the one retry after a 403):
// ErrUnavailable (sealed, rate limited, 5xx, unreachable) goes back to the
// caller, who may retry; each request to OpenBao is bounded by
// Config.Timeout. No value, token or secret id is ever logged or
// put in an error.
package openbao

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults filled by the constructors.
const (
	DefaultAppRoleMount = "approle"
	DefaultKVMount      = "secret"
	DefaultPrefix       = "plexsphere"
	DefaultTimeout      = 10 * time.Second
)

// Config says where OpenBao is and how to log in. Exactly one of Token,
// TokenFile and AppRole (RoleID with SecretID or SecretIDFile) is set.
type Config struct {
	// Address is OpenBao's base URL (https://bao.example:8200).
	Address string
	// Token is a static token; TokenFile a file holding one (re-read when
	// OpenBao refuses the token in hand).
	Token, TokenFile string
	// RoleID and SecretID or SecretIDFile log in with AppRole at
	// AppRoleMount (default "approle"). The secret id file is read at each
	// login.
	RoleID, SecretID, SecretIDFile string
	AppRoleMount                   string
	// Namespace, when set, is sent as X-Vault-Namespace on every request
	// (the AppRole login included).
	Namespace string
	// KVMount is the KV v2 mount (default "secret"); Prefix the path below
	// it that plexsphere owns (default "plexsphere").
	KVMount, Prefix string
	// CACert is a PEM file of CAs to trust for OpenBao's certificate
	// (default: the system roots).
	CACert string
	// Timeout bounds one call to OpenBao (default 10s).
	Timeout time.Duration
	// HTTPClient replaces the client's transport (tests); excludes CACert.
	HTTPClient *http.Client
	// Logger receives operational messages (logins); never a credential.
	// Discarded when nil.
	Logger *slog.Logger
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// withDefaults validates c and fills its defaults; errors name the field.
func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.Address)
	if c.Address == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, fmt.Errorf("openbao: Address: want http(s)://host[:port], got %q", c.Address)
	}
	appRole := c.RoleID != "" || c.SecretID != "" || c.SecretIDFile != ""
	n := 0
	for _, set := range []bool{c.Token != "", c.TokenFile != "", appRole} {
		if set {
			n++
		}
	}
	if n != 1 {
		return c, errors.New("openbao: set exactly one of Token, TokenFile or RoleID with SecretID/SecretIDFile")
	}
	if appRole && (c.RoleID == "" || (c.SecretID == "") == (c.SecretIDFile == "")) {
		return c, errors.New("openbao: AppRole needs RoleID and exactly one of SecretID or SecretIDFile")
	}
	if c.HTTPClient != nil && c.CACert != "" {
		return c, errors.New("openbao: CACert and HTTPClient exclude each other")
	}
	if c.Timeout < 0 {
		return c, errors.New("openbao: Timeout must not be negative")
	}
	fill(&c.AppRoleMount, DefaultAppRoleMount)
	fill(&c.KVMount, DefaultKVMount)
	fill(&c.Prefix, DefaultPrefix)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.Namespace = strings.Trim(c.Namespace, "/")
	paths := map[string]string{"AppRoleMount": c.AppRoleMount, "KVMount": c.KVMount, "Prefix": c.Prefix}
	if c.Namespace != "" {
		paths["Namespace"] = c.Namespace
	}
	for field, v := range paths {
		if err := checkPath(v); err != nil {
			return c, fmt.Errorf("openbao: %s: %w", field, err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func fill(s *string, def string) {
	*s = strings.Trim(*s, "/")
	if *s == "" {
		*s = def
	}
}

// checkPath accepts one or more '/'-separated segments of letters, digits,
// '.', '_' and '-' (no "." or ".." segments).
func checkPath(p string) error {
	for _, seg := range strings.Split(p, "/") {
		if !segmentRE.MatchString(seg) || seg == "." || seg == ".." {
			return fmt.Errorf("bad path segment %q in %q", seg, p)
		}
	}
	return nil
}
