package guard_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/guard"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
)

func mustTuples(t *testing.T, ss ...string) *authz.MemTuples {
	t.Helper()
	m := authz.NewMemTuples()
	for _, s := range ss {
		tu, err := authz.ParseTuple(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Add(tu); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func newGuard(t *testing.T, ts *authz.MemTuples) (*guard.Guard, guard.Engine) {
	t.Helper()
	e, err := authz.New(authz.Config{Schema: authz.DefaultSchema(), Tuples: ts})
	if err != nil {
		t.Fatal(err)
	}
	d := guard.Engine{Authz: e}
	return guard.New(d), d
}

func as(id string) context.Context {
	return principal.With(context.Background(), &principal.Principal{IdentityID: id, Kind: principal.User})
}

func TestEngineDecisions(t *testing.T) {
	g, d := newGuard(t, mustTuples(t,
		"platform#admin@user:root",
		"domain:a#platform@platform",
		"project:p#domain@domain:a",
		"project:p#viewer@user:viewer",
		"domain:a#member@user:member",
	))
	ctx := d.Begin(as("viewer"))
	if err := g.Check(ctx, "read", "project:p"); err != nil {
		t.Fatalf("viewer reads project: %v", err)
	}
	var pd *problem.Problem
	err := g.Check(ctx, "manage", "project:p")
	if !errors.As(err, &pd) || pd.Status != 403 || pd.Code != "permission_denied" || pd.Reason != "insufficient_relation" ||
		!slices.Contains(pd.RelationPath, "project:p#viewer") {
		t.Fatalf("viewer manages project: %#v", err)
	}
	err = g.Check(as("member"), "read", "project:p")
	if !errors.As(err, &pd) || pd.Reason != "out_of_scope" || len(pd.RelationPath) != 0 {
		t.Fatalf("domain member reads project: %#v", err)
	}
	// A platform manager passes on objects outside the graph too (so that a
	// missing object is a 404 for them); nobody else does.
	if err := g.Check(as("root"), "observe", "resource:ghost"); err != nil {
		t.Fatalf("platform admin on an unknown object: %v", err)
	}
	if err := g.Check(as("member"), "observe", "resource:ghost"); !errors.As(err, &pd) || pd.Status != 403 {
		t.Fatalf("member on an unknown object: %v", err)
	}
	ok, err := g.Visible(as("viewer"), "read", []string{"project:p", "project:q", "domain:a"})
	if err != nil || !slices.Equal(ok, []bool{true, false, false}) {
		t.Fatalf("visible as viewer: %v %v", ok, err)
	}
	ok, err = g.Visible(as("root"), "read", []string{"project:p", "project:q"})
	if err != nil || !slices.Equal(ok, []bool{true, true}) {
		t.Fatalf("visible as root: %v %v", ok, err)
	}
	if err := g.Check(context.Background(), "read", "project:p"); !errors.As(err, &pd) || pd.Status != 401 {
		t.Fatalf("anonymous: %v", err)
	}
}

// failing is a Decider whose engine is down.
type failing struct{}

func (failing) Decide(context.Context, *principal.Principal, string, string) (guard.Decision, error) {
	return guard.Decision{}, errors.New("engine down")
}

func TestEngineErrorsFailClosed(t *testing.T) {
	g := guard.New(failing{})
	var pd *problem.Problem
	if err := g.Check(as("x"), "read", "domain:a"); !errors.As(err, &pd) || pd.Status != 503 || pd.Code != "authz_unavailable" {
		t.Fatalf("check: %v", err)
	}
	if ok, err := g.Visible(as("x"), "read", []string{"domain:a"}); !errors.As(err, &pd) || pd.Code != "authz_unavailable" || ok != nil {
		t.Fatalf("visible: %v %v", ok, err)
	}
	// A stale index fails closed even for the platform admin.
	e, err := authz.New(authz.Config{Schema: authz.DefaultSchema(), Tuples: mustTuples(t, "platform#admin@user:root")})
	if err != nil {
		t.Fatal(err)
	}
	stale := guard.New(guard.Engine{Authz: e, Ready: func() error { return errors.New("stale") }})
	if err := stale.Check(as("root"), "manage", "platform:platform"); !errors.As(err, &pd) || pd.Code != "authz_unavailable" {
		t.Fatalf("stale index: %v", err)
	}
	if ok, err := stale.Visible(as("root"), "read", []string{"domain:a"}); !errors.As(err, &pd) || ok != nil {
		t.Fatalf("stale index, visible: %v %v", ok, err)
	}
	// An unknown permission is an engine error too: never an allow.
	g2, _ := newGuard(t, mustTuples(t, "platform#admin@user:root"))
	if err := g2.Check(as("x"), "deploy", "resource:r"); !errors.As(err, &pd) || pd.Code != "authz_unavailable" {
		t.Fatalf("unknown permission: %v", err)
	}
}

// checkCall matches literal guard calls: Check(ctx, "perm", "type:…
var checkCall = regexp.MustCompile(`\.Check\(ctx, "([a-z_-]+)", "([a-z_]+):`)

// TestHandlersUseSchemaPermissions finds every literal permission check in
// the server's packages and requires the default schema to define it.
func TestHandlersUseSchemaPermissions(t *testing.T) {
	schema := authz.DefaultSchema()
	found := 0
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range checkCall.FindAllStringSubmatch(string(src), -1) {
			found++
			rels, err := schema.Relations(m[2])
			if err != nil || !slices.Contains(rels, m[1]) {
				t.Errorf("%s checks %s#%s, which the default schema does not define", path, m[2], m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 10 {
		t.Fatalf("found only %d permission checks; the pattern no longer matches the handlers", found)
	}
}
