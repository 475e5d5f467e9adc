package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

func TestExpandGolden(t *testing.T) {
	e, _ := newTestEngine(t, DefaultSchema(), defaultFixture, 0)
	for _, tc := range []struct {
		resource, permission, file string
		depth                      int
	}{
		{"project:a1", "dispatch", "expand_project_dispatch.json", 0},
		{"resource:ra2", "connect", "expand_resource_connect_depth3.json", 3},
	} {
		tree, err := e.Expand(context.Background(), mustObject(t, tc.resource), tc.permission, tc.depth)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(tree); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.file, b.Bytes())
	}
}

func TestExpandTruncates(t *testing.T) {
	e, _ := newTestEngine(t, docSchema(t), []string{
		"doc:d#viewer@group:a#member",
		"group:a#member@group:b#member",
		"group:b#member@group:a#member",
		"group:b#member@user:u",
	}, 0)
	ctx := context.Background()
	tree, err := e.Expand(ctx, ObjectRef{"doc", "d"}, "viewer", 0)
	if err != nil {
		t.Fatal(err)
	}
	// viewer → a#member → b#member (leaf user:u, plus the cycle back to a).
	a := tree.Children
	if tree.Kind != ExpandUnion || len(a) != 1 || a[0].Relation != "member" || a[0].Resource != (ObjectRef{"group", "a"}) {
		t.Fatalf("unexpected root: %+v", tree)
	}
	b := a[0]
	if b.Kind != ExpandUnion || len(b.Children) != 1 {
		t.Fatalf("unexpected a#member: %+v", b)
	}
	bm := b.Children[0]
	if bm.Kind != ExpandUnion || len(bm.Children) != 2 {
		t.Fatalf("unexpected b#member: %+v", bm)
	}
	leaf, back := bm.Children[0], bm.Children[1]
	if leaf.Kind != ExpandLeaf || len(leaf.Subjects) != 1 || leaf.Subjects[0] != (ObjectRef{"user", "u"}.Subject()) {
		t.Errorf("b#member's direct members: %+v", leaf)
	}
	if !back.Truncated || back.Resource != (ObjectRef{"group", "a"}) {
		t.Errorf("the cycle back to a#member is not truncated: %+v", back)
	}
	// Depth 1 expands the root only.
	tree, err = e.Expand(ctx, ObjectRef{"doc", "d"}, "view", 1)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Kind != ExpandExclusion || len(tree.Children) != 2 || !tree.Children[0].Truncated || !tree.Children[1].Truncated {
		t.Errorf("depth 1: %+v", tree)
	}
	if _, err := e.Expand(ctx, ObjectRef{"doc", "d"}, "nope", 0); !errors.Is(err, ErrUnknownRelation) {
		t.Errorf("expand of an unknown relation: %v", err)
	}
}
