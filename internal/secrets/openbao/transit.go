package openbao

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/openbao/openbao/api/v2"
)

// DefaultTransitMount is where Transit is mounted unless configured.
const DefaultTransitMount = "transit"

// TransitConfig names the Transit key that wraps the master key.
type TransitConfig struct {
	// Mount is the Transit mount (default "transit").
	Mount string
	// Key is the key's name (required). OpenBao creates a missing key on
	// the first encrypt when the token's policy allows it.
	Key string
}

// Transit wraps and unwraps small secrets (the master key) with an OpenBao
// Transit key. It uses no derivation context: the key is meant for this one
// purpose, and a context would add a setting to lose without adding a
// boundary.
type Transit struct {
	c                *conn
	encrypt, decrypt string
}

// NewTransit validates cfg and tc and logs in (AppRole) like New; cfg's KV
// settings are not used.
func NewTransit(ctx context.Context, cfg Config, tc TransitConfig) (*Transit, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fill(&tc.Mount, DefaultTransitMount)
	if err := checkPath(tc.Mount); err != nil {
		return nil, fmt.Errorf("openbao: transit Mount: %w", err)
	}
	if tc.Key == "" || strings.Contains(tc.Key, "/") || checkPath(tc.Key) != nil {
		return nil, fmt.Errorf("openbao: transit Key: want a key name, got %q", tc.Key)
	}
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Transit{c: c, encrypt: tc.Mount + "/encrypt/" + tc.Key, decrypt: tc.Mount + "/decrypt/" + tc.Key}, nil
}

// Wrap encrypts plaintext and returns OpenBao's "vault:v1:…" ciphertext.
func (t *Transit) Wrap(ctx context.Context, plaintext []byte) (string, error) {
	body := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plaintext)}
	s, err := t.c.do(ctx, "transit encrypt", func(l *api.Logical) (*api.Secret, error) {
		return l.WriteWithContext(ctx, t.encrypt, body)
	})
	if err != nil {
		return "", err
	}
	ct, _ := dataString(s, "ciphertext")
	if !strings.HasPrefix(ct, "vault:") {
		return "", errors.New("openbao: transit encrypt: answer without a ciphertext")
	}
	return ct, nil
}

// Unwrap decrypts what Wrap returned.
func (t *Transit) Unwrap(ctx context.Context, ciphertext string) ([]byte, error) {
	if !strings.HasPrefix(ciphertext, "vault:") {
		return nil, errors.New(`openbao: transit decrypt: not a Transit ciphertext (no "vault:" prefix)`)
	}
	body := map[string]any{"ciphertext": ciphertext}
	s, err := t.c.do(ctx, "transit decrypt", func(l *api.Logical) (*api.Secret, error) {
		return l.WriteWithContext(ctx, t.decrypt, body)
	})
	if err != nil {
		return nil, err
	}
	enc, ok := dataString(s, "plaintext")
	pt, derr := base64.StdEncoding.DecodeString(enc)
	if !ok || derr != nil {
		return nil, errors.New("openbao: transit decrypt: answer without a base64 plaintext")
	}
	return pt, nil
}

func dataString(s *api.Secret, key string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.Data[key].(string)
	return v, ok
}
