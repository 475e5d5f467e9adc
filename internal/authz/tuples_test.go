package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestMemTuplesIndexes(t *testing.T) {
	ctx := context.Background()
	m := NewMemTuples()
	a := mustTuple(t, nil, "project:p#viewer@user:u")
	b := mustTuple(t, nil, "project:p#viewer@group:g#member")
	c := mustTuple(t, nil, "project:q#viewer@user:u")
	if err := m.Add(a, b, c, a); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d after adding a duplicate, want 3", m.Len())
	}
	p := ObjectRef{"project", "p"}
	u := ObjectRef{"user", "u"}.Subject()
	if ok, _ := m.HasTuple(ctx, p, "viewer", u); !ok {
		t.Error("HasTuple misses a stored tuple")
	}
	if ok, _ := m.HasTuple(ctx, p, "admin", u); ok {
		t.Error("HasTuple finds another relation's tuple")
	}
	subs, _ := m.SubjectsOf(ctx, p, "viewer")
	if got := refStrings(subs); !slices.Equal(got, []string{"user:u", "group:g#member"}) {
		t.Errorf("SubjectsOf = %v", got)
	}
	sets, _ := m.UsersetsOf(ctx, p, "viewer")
	if got := refStrings(sets); !slices.Equal(got, []string{"group:g#member"}) {
		t.Errorf("UsersetsOf = %v", got)
	}
	res, _ := m.ResourcesOf(ctx, "project", "viewer", u)
	if got := refStrings(res); !slices.Equal(got, []string{"project:p", "project:q"}) {
		t.Errorf("ResourcesOf = %v", got)
	}
	if err := m.Delete(a, a, mustTuple(t, nil, "project:z#viewer@user:u")); err != nil {
		t.Fatal(err)
	}
	res, _ = m.ResourcesOf(ctx, "project", "viewer", u)
	if got := refStrings(res); !slices.Equal(got, []string{"project:q"}) || m.Len() != 2 {
		t.Errorf("after delete: ResourcesOf = %v, Len = %d", got, m.Len())
	}
	if err := m.Delete(b); err != nil {
		t.Fatal(err)
	}
	if sets, _ := m.UsersetsOf(ctx, p, "viewer"); len(sets) != 0 {
		t.Errorf("UsersetsOf after delete = %v", sets)
	}
}

func TestMemTuplesApplyAndLoad(t *testing.T) {
	ctx := context.Background()
	m := NewMemTuples()
	x := mustTuple(t, nil, "domain:d#admin@user:x")
	y := mustTuple(t, nil, "domain:d#admin@user:y")
	if err := m.Add(x); err != nil {
		t.Fatal(err)
	}
	// Removes apply before adds: a tuple in both ends up stored.
	if err := m.Apply([]Tuple{x, y}, []Tuple{x}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.HasTuple(ctx, x.Resource, x.Relation, x.Subject); !ok || m.Len() != 2 {
		t.Fatalf("Apply lost a re-added tuple (Len %d)", m.Len())
	}
	// A malformed tuple leaves everything unchanged.
	bad := Tuple{Resource: ObjectRef{"domain", "d"}, Relation: "admin", Subject: ObjectRef{"user", "a b"}.Subject()}
	if err := m.Apply([]Tuple{mustTuple(t, nil, "domain:d#admin@user:z"), bad}, []Tuple{x}); !errors.Is(err, ErrInvalidRef) {
		t.Fatalf("Apply with a malformed tuple: %v", err)
	}
	if m.Len() != 2 {
		t.Fatalf("a failed Apply changed the set (Len %d)", m.Len())
	}
	if err := m.Load([]Tuple{y, y}); err != nil {
		t.Fatal(err)
	}
	if got := m.Tuples(); len(got) != 1 || got[0] != y {
		t.Fatalf("after Load: %v", got)
	}
	if err := m.Load([]Tuple{bad}); err == nil || m.Len() != 1 {
		t.Fatalf("Load of a malformed tuple: %v, Len %d", err, m.Len())
	}
}

// TestMemTuplesSnapshots: a slice handed to a reader never changes, whatever
// is written afterwards.
func TestMemTuplesSnapshots(t *testing.T) {
	ctx := context.Background()
	m := NewMemTuples()
	g := ObjectRef{"group", "g"}
	for i := range 8 {
		if err := m.Add(mustTuple(t, nil, fmt.Sprintf("group:g#member@user:u%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := m.SubjectsOf(ctx, g, "member")
	want := slices.Clone(snap)
	_ = m.Delete(mustTuple(t, nil, "group:g#member@user:u0"))
	_ = m.Add(mustTuple(t, nil, "group:g#member@user:new1"), mustTuple(t, nil, "group:g#member@user:new2"))
	_ = m.Delete(mustTuple(t, nil, "group:g#member@user:u5"))
	if !slices.Equal(snap, want) {
		t.Fatalf("snapshot changed: %v, want %v", snap, want)
	}
}

// TestMemTuplesSnapshotsAreClipped: a reader that appends to a returned
// slice gets its own array. Issue 7 row 22: the former check here could not
// fail (a slot a reader wrote was overwritten by the next Add before anyone
// looked), so removing the [:len:len] clips of SubjectsOf, UsersetsOf and
// ResourcesOf kept the suite green. Here each index slice is first given
// spare capacity (asserted), a reader appends to a snapshot, the store then
// appends to the same key, and the reader's element must still be its own:
// without a clip both write the same slot.
func TestMemTuplesSnapshotsAreClipped(t *testing.T) {
	ctx := context.Background()
	g, u := ObjectRef{"group", "g"}, ObjectRef{"user", "u"}.Subject()
	t.Run("SubjectsOf", func(t *testing.T) {
		m := NewMemTuples()
		checkClipped(t, m, "group:g#member@user:u%d",
			func() []SubjectRef { return m.subjects[relKey{g, "member"}] },
			func() []SubjectRef { s, _ := m.SubjectsOf(ctx, g, "member"); return s },
			ObjectRef{"user", "intruder"}.Subject())
	})
	t.Run("UsersetsOf", func(t *testing.T) {
		m := NewMemTuples()
		checkClipped(t, m, "group:g#member@group:h%d#member",
			func() []SubjectRef { return m.usersets[relKey{g, "member"}] },
			func() []SubjectRef { s, _ := m.UsersetsOf(ctx, g, "member"); return s },
			SubjectRef{Object: ObjectRef{"group", "intruder"}, Relation: "member"})
	})
	t.Run("ResourcesOf", func(t *testing.T) {
		m := NewMemTuples()
		checkClipped(t, m, "group:g%d#member@user:u",
			func() []ObjectRef { return m.resources[revKey{u, "group", "member"}] },
			func() []ObjectRef { s, _ := m.ResourcesOf(ctx, "group", "member", u); return s },
			ObjectRef{"group", "intruder"})
	})
}

// checkClipped adds tuples (format with one %d) until the store's slice
// (stored) has spare capacity, then appends intruder to what read returns
// and adds one more tuple to the same key.
func checkClipped[V comparable](t *testing.T, m *MemTuples, format string, stored, read func() []V, intruder V) {
	t.Helper()
	n := 0
	add := func() {
		if err := m.Add(mustTuple(t, nil, fmt.Sprintf(format, n))); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for add(); len(stored()) == cap(stored()) || n < 3; {
		add()
	}
	if s := stored(); len(s) >= cap(s) {
		t.Fatalf("precondition: no spare capacity (len %d, cap %d)", len(s), cap(s))
	}
	mine := append(read(), intruder)
	add()
	if got := mine[len(mine)-1]; got != intruder {
		t.Fatalf("the store's Add overwrote a reader's appended element with %v: the returned slice was not clipped", got)
	}
	if slices.Contains(read(), intruder) {
		t.Fatal("an append to a returned slice leaked into the store")
	}
}

// TestMemTuplesConcurrent runs checks against concurrent writes; run with
// -race. The invariant: user:stable is always a member and always views.
func TestMemTuplesConcurrent(t *testing.T) {
	s := docSchema(t)
	e, m := newTestEngine(t, s, []string{"doc:d#viewer@group:g#member", "group:g#member@user:stable"}, 0)
	ctx := context.Background()
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tu := Tuple{Resource: ObjectRef{"group", "g"}, Relation: "member",
					Subject: ObjectRef{"user", fmt.Sprintf("w%d-%d", w, i%50)}.Subject()}
				if i%2 == 0 {
					_ = m.Add(tu)
				} else {
					_ = m.Delete(tu)
				}
			}
		})
	}
	errs := make(chan error, 4)
	for range 4 {
		readers.Go(func() {
			for range 300 {
				d, err := e.Check(ctx, ObjectRef{"user", "stable"}.Subject(), "view", ObjectRef{"doc", "d"})
				if err != nil || !d.Allowed {
					errs <- fmt.Errorf("stable member denied: %+v, %v", d, err)
					return
				}
				subs, err := e.LookupSubjects(ctx, ObjectRef{"doc", "d"}, "view", SubjectType{Type: "user"})
				if err != nil || !slices.Contains(subs, ObjectRef{"user", "stable"}.Subject()) {
					errs <- fmt.Errorf("lookup subjects: %v, %v", subs, err)
					return
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	writers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
