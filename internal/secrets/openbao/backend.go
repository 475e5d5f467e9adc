package openbao

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
)

// valueField is the KV data field a value is stored in, base64;
// plainField the field a hand-written version may use instead (text).
const (
	valueField = "value_b64"
	plainField = "value"
)

// Backend stores secret values in OpenBao KV v2.
type Backend struct {
	c        *conn
	dataRoot string // <mount>/data/<prefix>/
	metaRoot string // <mount>/metadata/<prefix>/
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Named   = (*Backend)(nil)
)

// New validates cfg, fills its defaults and logs in (AppRole); it does not
// probe KV, so a sealed OpenBao at start is not fatal for token auth.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Backend{
		c:        c,
		dataRoot: cfg.KVMount + "/data/" + cfg.Prefix + "/",
		metaRoot: cfg.KVMount + "/metadata/" + cfg.Prefix + "/",
	}, nil
}

// Name names the backend in health checks and logs.
func (b *Backend) Name() string { return "openbao" }

// Put writes data as the next version, conditionally with o.CAS.
func (b *Backend) Put(ctx context.Context, p backend.Path, data []byte, o backend.PutOptions) (int64, error) {
	if err := p.Check(); err != nil {
		return 0, err
	}
	if len(data) > backend.MaxValue {
		return 0, fmt.Errorf("openbao: put %s: value of %d bytes exceeds %d", p, len(data), backend.MaxValue)
	}
	body := map[string]any{"data": map[string]any{valueField: base64.StdEncoding.EncodeToString(data)}}
	if o.CAS != nil {
		body["options"] = map[string]any{"cas": *o.CAS}
	}
	s, err := b.c.do(ctx, "put "+p.String(), func(l *api.Logical) (*api.Secret, error) {
		return l.WriteWithContext(ctx, b.dataRoot+p.String(), body)
	})
	if err != nil {
		return 0, err
	}
	if s == nil {
		return 0, fmt.Errorf("openbao: put %s: empty answer", p)
	}
	v, err := number(s.Data["version"])
	if err != nil || v < 1 {
		return 0, fmt.Errorf("openbao: put %s: answer without a version", p)
	}
	return v, nil
}

// Get reads version (0 = current).
func (b *Backend) Get(ctx context.Context, p backend.Path, version int64) (backend.Value, error) {
	if err := p.Check(); err != nil {
		return backend.Value{}, err
	}
	if version < 0 {
		return backend.Value{}, fmt.Errorf("openbao: get %s: negative version %d", p, version)
	}
	var q map[string][]string
	if version > 0 {
		q = map[string][]string{"version": {strconv.FormatInt(version, 10)}}
	}
	op := "get " + p.String()
	s, err := b.c.do(ctx, op, func(l *api.Logical) (*api.Secret, error) {
		return l.ReadWithDataWithContext(ctx, b.dataRoot+p.String(), q)
	})
	if err != nil {
		return backend.Value{}, err
	}
	if s == nil { // 404 without a body: no such path, or no such version
		if version == 0 {
			return backend.Value{}, fmt.Errorf("openbao: %s: %w", op, backend.ErrNotFound)
		}
		if _, err := b.Metadata(ctx, p); err != nil {
			return backend.Value{}, err
		}
		return backend.Value{}, fmt.Errorf("openbao: %s v%d: %w", op, version, backend.ErrVersionNotFound)
	}
	return decodeVersion(op, s)
}

// decodeVersion reads a KV data answer; data null means the version was
// deleted or destroyed (OpenBao answers 404 with its metadata).
func decodeVersion(op string, s *api.Secret) (backend.Value, error) {
	meta, _ := s.Data["metadata"].(map[string]any)
	v, verr := number(meta["version"])
	data, ok := s.Data["data"].(map[string]any)
	if !ok {
		return backend.Value{}, fmt.Errorf("openbao: %s v%d: deleted or destroyed: %w", op, v, backend.ErrVersionNotFound)
	}
	if verr != nil {
		return backend.Value{}, fmt.Errorf("openbao: %s: answer without a version", op)
	}
	if enc, ok := data[valueField].(string); ok {
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return backend.Value{}, fmt.Errorf("openbao: %s v%d: field %s is not base64", op, v, valueField)
		}
		return backend.Value{Data: raw, Version: v}, nil
	}
	if txt, ok := data[plainField].(string); ok {
		return backend.Value{Data: []byte(txt), Version: v}, nil
	}
	return backend.Value{}, fmt.Errorf("openbao: %s v%d: no %s or %s field", op, v, valueField, plainField)
}

// Metadata reads the versions, never a value. A version trimmed by KV's
// max_versions is absent; a destroyed or deleted one carries DestroyedAt:
// its deletion_time, or (KV records no destruction time) the time of this
// read.
func (b *Backend) Metadata(ctx context.Context, p backend.Path) (backend.Metadata, error) {
	if err := p.Check(); err != nil {
		return backend.Metadata{}, err
	}
	op := "metadata " + p.String()
	s, err := b.c.do(ctx, op, func(l *api.Logical) (*api.Secret, error) {
		return l.ReadWithContext(ctx, b.metaRoot+p.String())
	})
	if err != nil {
		return backend.Metadata{}, err
	}
	if s == nil {
		return backend.Metadata{}, fmt.Errorf("openbao: %s: %w", op, backend.ErrNotFound)
	}
	return decodeMetadata(op, s.Data, time.Now())
}

func decodeMetadata(op string, d map[string]any, now time.Time) (backend.Metadata, error) {
	cur, err := number(d["current_version"])
	if err != nil {
		return backend.Metadata{}, fmt.Errorf("openbao: %s: answer without current_version", op)
	}
	md := backend.Metadata{Current: cur}
	versions, _ := d["versions"].(map[string]any)
	for k, raw := range versions {
		n, err := strconv.ParseInt(k, 10, 64)
		vm, ok := raw.(map[string]any)
		if err != nil || !ok {
			return backend.Metadata{}, fmt.Errorf("openbao: %s: bad version entry %q", op, k)
		}
		v := backend.Version{Version: n, CreatedAt: parseTime(vm["created_time"])}
		if del := parseTime(vm["deletion_time"]); !del.IsZero() && !del.After(now) {
			v.DestroyedAt = del
		}
		if destroyed, _ := vm["destroyed"].(bool); destroyed && v.DestroyedAt.IsZero() {
			v.DestroyedAt = now
		}
		md.Versions = append(md.Versions, v)
	}
	slices.SortFunc(md.Versions, func(a, b backend.Version) int { return int(a.Version - b.Version) })
	return md, nil
}

// Delete destroys every version and the metadata; deleting a path that
// does not exist succeeds, as in OpenBao.
func (b *Backend) Delete(ctx context.Context, p backend.Path) error {
	if err := p.Check(); err != nil {
		return err
	}
	_, err := b.c.do(ctx, "delete "+p.String(), func(l *api.Logical) (*api.Secret, error) {
		return l.DeleteWithContext(ctx, b.metaRoot+p.String())
	})
	return err
}

// Health reports whether OpenBao can serve: sealed, uninitialised or
// standby nodes are ErrUnavailable.
func (b *Backend) Health(ctx context.Context) error {
	h, err := b.c.api.Sys().HealthWithContext(ctx)
	if err != nil {
		return classify(ctx, "health", err)
	}
	switch {
	case !h.Initialized:
		return fmt.Errorf("openbao: health: not initialised: %w", backend.ErrUnavailable)
	case h.Sealed:
		return fmt.Errorf("openbao: health: sealed: %w", backend.ErrUnavailable)
	case h.Standby:
		return fmt.Errorf("openbao: health: standby node: %w", backend.ErrUnavailable)
	}
	return nil
}

func number(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Int64()
	case float64:
		return int64(x), nil
	}
	return 0, errors.New("not a number")
}

func parseTime(v any) time.Time {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
