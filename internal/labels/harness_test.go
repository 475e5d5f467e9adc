package labels

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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/api"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/guard"
	"github.com/plexsphere/plexsphere/internal/identity"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
	"github.com/plexsphere/plexsphere/internal/tenancy"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// eachBackend runs fn on a fresh control plane over SQLite, and over a fresh
// PostgreSQL schema when PLEXSPHERE_TEST_POSTGRES_URL is set.
func eachBackend(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, newHarness(t, b))
		})
	}
}

// harness is the control plane with labels, tenancy and identity on a real
// database, served over loopback HTTP.
type harness struct {
	db      *store.DB
	labels  *Service
	authz   *denyList
	url     string
	token   string // the platform admin's
	adminID string
	// outsider is a valid token whose identity holds no grant.
	outsider string
}

func newHarness(t *testing.T, b storetest.Backend) *harness {
	t.Helper()
	ctx := context.Background()
	cfg := store.Config{SQLitePath: filepath.Join(t.TempDir(), "plexsphere.db")}
	if b == storetest.Postgres {
		cfg = store.Config{URL: storetest.DatabaseURL(t, b)}
	}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	al, err := audit.New(audit.Config{DB: db, Pepper: randomBytes(32)})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := page.NewCodec(randomBytes(32))
	if err != nil {
		t.Fatal(err)
	}
	schema, index := authz.DefaultSchema(), authz.NewMemTuples()
	ts, err := tuples.New(tuples.Config{DB: db, Schema: schema, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := authz.New(authz.Config{Schema: schema, Tuples: index})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{db: db, authz: &denyList{next: guard.New(guard.Engine{Authz: engine}), deny: map[string]bool{}}}
	ids, err := identity.NewService(identity.Config{DB: db, Audit: al, Tuples: ts, Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenancy.NewService(tenancy.Config{DB: db, Audit: al, Authz: h.authz.next, Tuples: ts, Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	if h.labels, err = NewService(Config{DB: db, Audit: al, Authz: h.authz, Pages: pages}); err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: al, Authenticator: ids})
	if err != nil {
		t.Fatal(err)
	}
	ids.Register(srv.API)
	ten.Register(srv.API)
	h.labels.Register(srv.API)
	if h.token, err = ids.Bootstrap(ctx); err != nil || h.token == "" {
		t.Fatalf("bootstrap: %q, %v", h.token, err)
	}
	if err := ts.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT subject_id FROM relation_tuples
		WHERE resource_type = 'platform' AND relation = 'admin'`).Scan(&h.adminID); err != nil {
		t.Fatal(err)
	}
	h.outsider = addOutsider(t, db)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	h.url = hs.URL
	return h
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// addOutsider stores an identity without any grant and an API token for it
// (the token format and hash of the identity package: psk_, SHA-256 hex).
func addOutsider(t *testing.T, db *store.DB) string {
	t.Helper()
	id, now := uuid.Must(uuid.NewV7()).String(), store.Micros(time.Now())
	plain := "psk_dev_" + hex.EncodeToString(randomBytes(20))
	sum := sha256.Sum256([]byte(plain))
	_, err := db.Exec(`INSERT INTO identities (id, kind, display_name, created_at, updated_at)
		VALUES ($1, 'user', 'outsider', $2, $2)`, id, now)
	if err == nil {
		_, err = db.Exec(`INSERT INTO api_tokens (id, identity_id, env_prefix, display_prefix, secret_hash, created_at)
			VALUES ($1, $2, 'dev', $3, $4, $5)`, uuid.Must(uuid.NewV7()).String(), id, plain[:12], hex.EncodeToString(sum[:]), now)
	}
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// denyList is the Authorizer under test: it refuses the listed
// (permission, object) pairs as the real guard would, records every check,
// and asks the real guard about the rest.
type denyList struct {
	next *guard.Guard
	// mu guards deny and checks.
	mu     sync.Mutex
	deny   map[string]bool
	checks []string
}

func (d *denyList) Check(ctx context.Context, permission, object string) error {
	d.mu.Lock()
	key := permission + " " + object
	d.checks = append(d.checks, key)
	denied := d.deny[key]
	d.mu.Unlock()
	if denied {
		typ, id, _ := strings.Cut(object, ":")
		audit.RequestFrom(ctx).Decide(false, permission, typ, id, "insufficient_relation")
		return problem.New(http.StatusForbidden, "permission_denied", "The caller lacks "+permission+" on this object.")
	}
	return d.next.Check(ctx, permission, object)
}

// refuse makes the authorizer deny permission on object.
func (h *harness) refuse(permission, object string) {
	h.authz.mu.Lock()
	defer h.authz.mu.Unlock()
	h.authz.deny[permission+" "+object] = true
}

// allowAll lifts every refusal.
func (h *harness) allowAll() {
	h.authz.mu.Lock()
	defer h.authz.mu.Unlock()
	h.authz.deny = map[string]bool{}
}

// takeChecks returns and forgets the checks made so far.
func (h *harness) takeChecks() []string {
	h.authz.mu.Lock()
	defer h.authz.mu.Unlock()
	c := h.authz.checks
	h.authz.checks = nil
	return c
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// code is the problem code of an error answer.
func (r reply) code() string {
	var p apiv1.Problem
	json.Unmarshal(r.body, &p)
	return p.Code
}

func (r reply) detail() string {
	var p apiv1.Problem
	json.Unmarshal(r.body, &p)
	return p.Detail
}

// call sends a request as the admin; body may be nil, a string or a value.
func (h *harness) call(t *testing.T, method, path string, body any) reply {
	t.Helper()
	return h.callAs(t, h.token, method, path, body)
}

func (h *harness) callAs(t *testing.T, token, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// ok sends a request that must answer status and decodes the answer.
func ok[T any](t *testing.T, h *harness, status int, method, path string, body any) T {
	t.Helper()
	r := h.call(t, method, path, body)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	var out T
	if len(r.body) > 0 {
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return out
}

// fails sends a request that must fail with status and code.
func (h *harness) fails(t *testing.T, status int, code, method, path string, body any) reply {
	t.Helper()
	r := h.call(t, method, path, body)
	if r.status != status || r.code() != code {
		t.Fatalf("%s %s: got %d %q, want %d %q: %s", method, path, r.status, r.code(), status, code, r.body)
	}
	return r
}

// tree is the tenancy the tests label: Domains acme and globex; Projects
// web and data in acme, gx in globex; a Resource in each Project.
type tree struct {
	acme, globex  string
	web, data, gx string
	vm, dbvm, gvm string
}

func (h *harness) tree(t *testing.T) tree {
	t.Helper()
	var tr tree
	tr.acme = h.domain(t, "acme", "10.10.0.0/16")
	tr.globex = h.domain(t, "globex", "10.20.0.0/16")
	tr.web = h.project(t, tr.acme, "web")
	tr.data = h.project(t, tr.acme, "data")
	tr.gx = h.project(t, tr.globex, "gx")
	tr.vm = h.resource(t, tr.web)
	tr.dbvm = h.resource(t, tr.data)
	tr.gvm = h.resource(t, tr.gx)
	return tr
}

func (h *harness) domain(t *testing.T, slug, cidr string) string {
	t.Helper()
	return ok[apiv1.Domain](t, h, 201, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: cidr}).ID
}

func (h *harness) project(t *testing.T, domainID, slug string) string {
	t.Helper()
	return ok[apiv1.Project](t, h, 201, "POST", "/v1/projects", apiv1.CreateProject{DomainID: domainID, Name: slug, Slug: slug}).ID
}

func (h *harness) resource(t *testing.T, projectID string) string {
	t.Helper()
	return ok[apiv1.Resource](t, h, 201, "POST", "/v1/projects/"+projectID+"/resources",
		apiv1.CreateResource{Origin: "adopted", Kind: "vm"}).ID
}

// define creates a Definition that must succeed.
func (h *harness) define(t *testing.T, body apiv1.CreateLabelDefinition) apiv1.LabelDefinition {
	t.Helper()
	return ok[apiv1.LabelDefinition](t, h, 201, "POST", "/v1/label-definitions", body)
}

// stringDef is a string Definition body for scope ("platform",
// "domain:<id>", …) and key.
func stringDef(scope, key string) apiv1.CreateLabelDefinition {
	return apiv1.CreateLabelDefinition{Scope: scope, LocalKey: key, ValueSchema: apiv1.ValueSchema{Kind: KindString}}
}

func labelsPath(kind, id string) string { return "/v1/objects/" + kind + "/" + id + "/labels" }

// assign sets a label that must succeed.
func (h *harness) assign(t *testing.T, kind, id, defID, value string) apiv1.LabelAssignment {
	t.Helper()
	return ok[apiv1.LabelAssignment](t, h, 200, "PUT", labelsPath(kind, id), apiv1.AssignLabel{DefinitionID: defID, Value: value})
}

// labelsOn lists an object's assignments as "qualified_key=value" strings.
func (h *harness) labelsOn(t *testing.T, kind, id string) []string {
	t.Helper()
	l := ok[apiv1.LabelAssignmentList](t, h, 200, "GET", labelsPath(kind, id), nil)
	out := []string{}
	for _, a := range l.Items {
		out = append(out, a.QualifiedKey+"="+a.Value)
	}
	return out
}

// auditRow is one audit entry as the tests read it.
type auditRow struct {
	chain, action, outcome, objType, objID, identity string
}

// auditRows returns the entries of action, oldest first.
func (h *harness) auditRows(t *testing.T, action string) []auditRow {
	t.Helper()
	rows, err := h.db.Query(`SELECT chain_id, action, outcome, object_type, object_id, identity_id_ref
		FROM audit_entries WHERE action = $1 ORDER BY occurred_at, seq`, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.chain, &r.action, &r.outcome, &r.objType, &r.objID, &r.identity); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
