package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/store"
)

// NewUser creates a user identity with no grants and an API token for it,
// directly in the database (there is no sign-in flow to go through), and
// returns the identity id and the token plaintext. Grant it roles through
// the relation-tuple API.
func (e *Env) NewUser(t testing.TB, displayName string) (identityID, token string) {
	t.Helper()
	raw := make([]byte, 20)
	rand.Read(raw)
	token = "psk_dev_" + hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	identityID, now := uuid.Must(uuid.NewV7()).String(), store.Micros(time.Now())
	db := e.Server.DB
	if _, err := db.Exec(`INSERT INTO identities (id, kind, display_name, created_at, updated_at)
		VALUES ($1, 'user', $2, $3, $3)`, identityID, displayName, now); err != nil {
		t.Fatalf("create user %s: %v", displayName, err)
	}
	if _, err := db.Exec(`INSERT INTO api_tokens (id, identity_id, env_prefix, display_prefix, secret_hash, created_at)
		VALUES ($1, $2, 'dev', $3, $4, $5)`, uuid.Must(uuid.NewV7()).String(), identityID, token[:12],
		hex.EncodeToString(sum[:]), now); err != nil {
		t.Fatalf("issue token for %s: %v", displayName, err)
	}
	return identityID, token
}

// Replica starts a second control plane on e's database and data directory
// (so it shares the master key), as another replica behind a load balancer
// would. It uses e's admin token.
func (e *Env) Replica(t testing.TB) *Env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := app.Open(context.Background(), e.Config, log)
	if err != nil {
		t.Fatalf("open replica: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &Env{Server: srv, URL: hs.URL, Token: e.Token, DataDir: e.DataDir, Config: e.Config}
}

// Enrolment is a fresh Domain, a Project in it and a node bootstrap token
// for that Project: what a test needs before it registers nodes.
type Enrolment struct {
	Domain  apiv1.Domain
	Project apiv1.Project
	Token   apiv1.IssuedBootstrapToken
}

// NewEnrolment creates, as the platform admin, a Domain with slug and
// meshCIDR, a Project "p" in it and a node bootstrap token for maxUses
// registrations (0 = the server's default, one). The Domain runs in the
// allow-all bootstrap mode (policy_default allow), so its nodes form a
// full mesh until a policy covers them; new Domains otherwise deny.
func (e *Env) NewEnrolment(t testing.TB, slug, meshCIDR string, maxUses int) Enrolment {
	t.Helper()
	var f Enrolment
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: meshCIDR}, &f.Domain); st != 201 {
		t.Fatalf("domain: %d %s", st, raw)
	}
	e.AllowAll(t, f.Domain.ID)
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: f.Domain.ID, Name: "p", Slug: "p"}, &f.Project); st != 201 {
		t.Fatalf("project: %d %s", st, raw)
	}
	if st, raw := e.Do(t, "POST", "/v1/projects/"+f.Project.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test", MaxUses: maxUses}, &f.Token); st != 201 {
		t.Fatalf("bootstrap token: %d %s", st, raw)
	}
	return f
}

// AllowAll puts the Domain into the allow-all bootstrap mode: nodes no
// policy covers accept everything and see every peer
// (docs/design/0006-policy.md).
func (e *Env) AllowAll(t testing.TB, domainID string) {
	t.Helper()
	if st, raw := e.Do(t, "PUT", "/v1/domains/"+domainID+"/policy-default", map[string]string{"policy_default": "allow"}, nil); st != 200 {
		t.Fatalf("policy default: %d %s", st, raw)
	}
}

// Send sends a request without a body as token ("" for none) and returns
// the answer, its body read and closed: for tests that need the headers.
func (e *Env) Send(t testing.TB, token, method, path string) (*http.Response, []byte) {
	t.Helper()
	return e.SendJSON(t, token, method, path, nil)
}

// SendJSON is Send with body marshalled to JSON (nil: no body).
func (e *Env) SendJSON(t testing.TB, token, method, path string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}
