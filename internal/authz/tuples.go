package authz

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// TupleReader is what the engine needs from tuple storage: point membership
// and the two directions of the tuple index. Returned slices are read-only
// and may be shared; implementations must be safe for concurrent use.
type TupleReader interface {
	// HasTuple reports whether exactly this tuple is stored.
	HasTuple(ctx context.Context, resource ObjectRef, relation string, subject SubjectRef) (bool, error)
	// SubjectsOf returns every subject stored on resource#relation.
	SubjectsOf(ctx context.Context, resource ObjectRef, relation string) ([]SubjectRef, error)
	// UsersetsOf returns the userset subjects (those with a relation) stored
	// on resource#relation: the only ones a check must recurse into.
	UsersetsOf(ctx context.Context, resource ObjectRef, relation string) ([]SubjectRef, error)
	// ResourcesOf returns the objects of resourceType on which subject is
	// stored with relation.
	ResourcesOf(ctx context.Context, resourceType, relation string, subject SubjectRef) ([]ObjectRef, error)
}

// MemTuples is an in-memory, indexed tuple set implementing [TupleReader].
// Writes are idempotent (adding a present tuple or deleting a missing one
// does nothing), so a change feed may deliver at least once. The zero value
// is not usable; call [NewMemTuples].
type MemTuples struct {
	// mu guards the maps below. Slices stored in them are append-only while
	// they are shared: readers receive them with cap == len, and a delete
	// replaces the slice with a fresh copy, so a slice once handed out never
	// changes.
	mu        sync.RWMutex
	set       map[Tuple]struct{}
	subjects  map[relKey][]SubjectRef
	usersets  map[relKey][]SubjectRef
	resources map[revKey][]ObjectRef
}

type relKey struct {
	resource ObjectRef
	relation string
}

type revKey struct {
	subject      SubjectRef
	resourceType string
	relation     string
}

// NewMemTuples returns an empty tuple set.
func NewMemTuples() *MemTuples {
	m := &MemTuples{}
	m.resetLocked(0)
	return m
}

func (m *MemTuples) resetLocked(n int) {
	m.set = make(map[Tuple]struct{}, n)
	m.subjects = make(map[relKey][]SubjectRef, n/2)
	m.usersets = make(map[relKey][]SubjectRef)
	m.resources = make(map[revKey][]ObjectRef, n/2)
}

// Load replaces the whole set with ts (the start-up load from the database).
// Duplicates are ignored. Nothing changes if a tuple is malformed.
func (m *MemTuples) Load(ts []Tuple) error {
	if err := validateAll(ts); err != nil {
		return err
	}
	fresh := &MemTuples{}
	fresh.resetLocked(len(ts))
	for _, t := range ts {
		fresh.addLocked(t)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set, m.subjects, m.usersets, m.resources = fresh.set, fresh.subjects, fresh.usersets, fresh.resources
	return nil
}

// Add stores tuples. Nothing changes if one is malformed.
func (m *MemTuples) Add(ts ...Tuple) error { return m.Apply(ts, nil) }

// Delete removes tuples; missing ones are ignored.
func (m *MemTuples) Delete(ts ...Tuple) error { return m.Apply(nil, ts) }

// Apply removes the tuples in remove, then stores those in add, atomically
// for readers. Call it after the database transaction that made the same
// change has committed. Nothing changes if a tuple is malformed.
func (m *MemTuples) Apply(add, remove []Tuple) error {
	if err := validateAll(add); err != nil {
		return err
	}
	if err := validateAll(remove); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range remove {
		m.deleteLocked(t)
	}
	for _, t := range add {
		m.addLocked(t)
	}
	return nil
}

func validateAll(ts []Tuple) error {
	for _, t := range ts {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("authz: mem tuples: %w", err)
		}
	}
	return nil
}

func (m *MemTuples) addLocked(t Tuple) {
	if _, ok := m.set[t]; ok {
		return
	}
	m.set[t] = struct{}{}
	fk := relKey{t.Resource, t.Relation}
	m.subjects[fk] = append(m.subjects[fk], t.Subject)
	if t.Subject.Relation != "" {
		m.usersets[fk] = append(m.usersets[fk], t.Subject)
	}
	rk := revKey{t.Subject, t.Resource.Type, t.Relation}
	m.resources[rk] = append(m.resources[rk], t.Resource)
}

func (m *MemTuples) deleteLocked(t Tuple) {
	if _, ok := m.set[t]; !ok {
		return
	}
	delete(m.set, t)
	fk := relKey{t.Resource, t.Relation}
	removeShared(m.subjects, fk, t.Subject)
	if t.Subject.Relation != "" {
		removeShared(m.usersets, fk, t.Subject)
	}
	removeShared(m.resources, revKey{t.Subject, t.Resource.Type, t.Relation}, t.Resource)
}

// removeShared removes v from idx[k] by building a new slice, so readers
// holding the old one are unaffected.
func removeShared[K comparable, V comparable](idx map[K][]V, k K, v V) {
	old := idx[k]
	i := slices.Index(old, v)
	if i < 0 {
		return
	}
	if len(old) == 1 {
		delete(idx, k)
		return
	}
	fresh := make([]V, 0, len(old)-1)
	fresh = append(fresh, old[:i]...)
	idx[k] = append(fresh, old[i+1:]...)
}

// Len returns the number of stored tuples.
func (m *MemTuples) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.set)
}

// Tuples returns a copy of every stored tuple, in no particular order.
func (m *MemTuples) Tuples() []Tuple {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Tuple, 0, len(m.set))
	for t := range m.set {
		out = append(out, t)
	}
	return out
}

// HasTuple implements [TupleReader].
func (m *MemTuples) HasTuple(_ context.Context, resource ObjectRef, relation string, subject SubjectRef) (bool, error) {
	m.mu.RLock()
	_, ok := m.set[Tuple{Resource: resource, Relation: relation, Subject: subject}]
	m.mu.RUnlock()
	return ok, nil
}

// SubjectsOf implements [TupleReader].
func (m *MemTuples) SubjectsOf(_ context.Context, resource ObjectRef, relation string) ([]SubjectRef, error) {
	m.mu.RLock()
	s := m.subjects[relKey{resource, relation}]
	m.mu.RUnlock()
	return s[:len(s):len(s)], nil
}

// UsersetsOf implements [TupleReader].
func (m *MemTuples) UsersetsOf(_ context.Context, resource ObjectRef, relation string) ([]SubjectRef, error) {
	m.mu.RLock()
	s := m.usersets[relKey{resource, relation}]
	m.mu.RUnlock()
	return s[:len(s):len(s)], nil
}

// ResourcesOf implements [TupleReader].
func (m *MemTuples) ResourcesOf(_ context.Context, resourceType, relation string, subject SubjectRef) ([]ObjectRef, error) {
	m.mu.RLock()
	s := m.resources[revKey{subject, resourceType, relation}]
	m.mu.RUnlock()
	return s[:len(s):len(s)], nil
}
