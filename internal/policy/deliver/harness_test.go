package deliver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/events/eventstest"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// fixture is a migrated database with one Domain and Project, a real mesh
// service filtered by the delivery, and a recording emitter.
type fixture struct {
	db      *store.DB
	mesh    *mesh.Service
	svc     *Service
	sent    *eventstest.Recorder
	compose *nodestate.Composer
}

const (
	testDomain  = "d0000000-0000-4000-8000-000000000001"
	testProject = "p0000000-0000-4000-8000-000000000001"
)

func newFixture(t testing.TB, b storetest.Backend, mode string) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: storetest.DatabaseURL(t, b),
		SQLitePath: filepath.Join(t.TempDir(), "deliver.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, sent: &eventstest.Recorder{}}
	if f.mesh, err = mesh.New(mesh.Config{DB: db, Keyring: kr, Events: f.sent, NoIPv6: true}); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = New(Config{DB: db, Events: f.sent, Mesh: f.mesh}); err != nil {
		t.Fatal(err)
	}
	f.mesh.SetVisibility(f.svc)
	f.compose = nodestate.New(f.mesh.StateProvider(), f.svc.StateProvider())
	f.exec(t, `INSERT INTO domains (id, slug, name, mesh_cidr, heartbeat_interval, stale_after, unreachable_after,
		created_at, updated_at, policy_default) VALUES ($1, 'd', 'd', '100.64.0.0/24', '30s', '90s', '300s', 0, 0, $2)`,
		testDomain, mode)
	f.exec(t, `INSERT INTO projects (id, domain_id, slug, name, created_at, updated_at) VALUES ($1, $2, 'p', 'p', 0, 0)`,
		testProject, testDomain)
	f.exec(t, `INSERT INTO label_definitions (id, scope, scope_id, local_key, qualified_key, value_schema,
		applicable_kinds, on_delete, cardinality, immutable, required, cloud_tag_propagation, created_by, created_at, updated_at)
		VALUES ('def-role', 'platform', '', 'role', 'role', '{}', '["node"]', 'cascade', 1, FALSE, FALSE, FALSE, 't', 0, 0)`)
	return f
}

func (f *fixture) exec(t testing.TB, query string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (f *fixture) inTx(t testing.TB, fn func(ctx context.Context, tx *sql.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := f.db.Tx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func wgKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// join writes a live node with role and tells the delivery, as enrolment
// does (then the mesh announces it).
func (f *fixture) join(t testing.TB, id, ip, role string, level int) {
	t.Helper()
	f.inTx(t, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind,
			public_key, mesh_ip, nsk_digest, nsk_sealed, registered_level, created_at, updated_at)
			VALUES ($1, $2, $3, 'r', 't', 'server', $4, $5, $1, 's', $6, 0, 0)`,
			id, testDomain, testProject, wgKey(), ip, level); err != nil {
			return err
		}
		if err := setRole(ctx, tx, id, role); err != nil {
			return err
		}
		if err := f.svc.NodeJoined(ctx, tx, id); err != nil {
			return err
		}
		return f.mesh.Announce(ctx, tx, id, nodeproto.EventPeerAdded)
	})
}

func setRole(ctx context.Context, tx *sql.Tx, id, role string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM label_assignments WHERE object_kind = 'node' AND object_id = $1`, id); err != nil {
		return err
	}
	if role == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO label_assignments (object_kind, object_id, definition_id, value,
		assigned_by, assigned_at) VALUES ('node', $1, 'def-role', $2, 't', 0)`, id, role)
	return err
}

// relabel changes a node's role, as the label context does.
func (f *fixture) relabel(t testing.TB, id, role string) {
	t.Helper()
	f.inTx(t, func(ctx context.Context, tx *sql.Tx) error {
		if err := setRole(ctx, tx, id, role); err != nil {
			return err
		}
		return f.svc.NodeLabelsChanged(ctx, tx, id)
	})
}

// putPolicy writes (or replaces the head of) a Policy, as internal/policy
// does, and notifies the delivery.
func (f *fixture) putPolicy(t testing.TB, id, rev, src, dst, rules string) {
	t.Helper()
	f.inTx(t, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM policies WHERE id = $1`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO policies (id, project_id, domain_id, slug, head_revision_id,
				created_at, updated_at) VALUES ($1, $2, $3, $1, $4, 0, 0)`, id, testProject, testDomain, rev); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_revisions (id, policy_id, source_selector,
			destination_selector, rules, rule_count, created_by, created_at) VALUES ($1, $2, $3, $4, $5, 1, 't', 0)`,
			rev, id, src, dst, rules); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET head_revision_id = $2 WHERE id = $1`, id, rev); err != nil {
			return err
		}
		return f.svc.PolicyChanged(ctx, tx, testDomain, id)
	})
}

func (f *fixture) deletePolicy(t testing.TB, id string) {
	t.Helper()
	f.inTx(t, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM policy_revisions WHERE policy_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE id = $1`, id); err != nil {
			return err
		}
		return f.svc.PolicyChanged(ctx, tx, testDomain, id)
	})
}

// state composes a node's state as GET …/state does, at level.
func (f *fixture) state(t testing.TB, id string, level int) nodeproto.StateSnapshot {
	t.Helper()
	doc := nodeproto.StateSnapshot{StateResponse: nodeproto.StateResponse{Peers: []nodeproto.Peer{},
		Policies: []nodeproto.Policy{}, Data: []nodeproto.DataEntry{}, SecretRefs: []nodeproto.SecretRef{}}}
	f.inTx(t, func(ctx context.Context, tx *sql.Tx) error {
		return f.compose.Compose(ctx, tx, nodestate.Node{ID: id, DomainID: testDomain, ProjectID: testProject, Level: level}, &doc)
	})
	if err := doc.StateResponse.Validate(time.Now()); err != nil {
		t.Fatalf("state of %s does not validate: %v", id, err)
	}
	return doc
}

func peerIDs(doc nodeproto.StateSnapshot) []string {
	var out []string
	for _, p := range doc.Peers {
		out = append(out, p.ID)
	}
	return out
}
