package authz_test

import (
	"context"
	"fmt"

	"github.com/plexsphere/plexsphere/internal/authz"
)

// The control plane loads every tuple from its database into a MemTuples at
// start, applies each committed write, and checks against it.
func Example() {
	ctx := context.Background()
	tuples := authz.NewMemTuples()
	var load []authz.Tuple
	for _, s := range []string{ // as read from the relation_tuples table
		"domain:acme#platform@platform",
		"project:web#domain@domain:acme",
		"resource:vm1#project@project:web",
		"project:web#operator@group:oncall#member",
		"group:oncall#member@user:ada",
	} {
		t, err := authz.ParseTuple(s)
		if err != nil {
			panic(err)
		}
		load = append(load, t)
	}
	if err := tuples.Load(load); err != nil {
		panic(err)
	}
	engine, err := authz.New(authz.Config{Schema: authz.DefaultSchema(), Tuples: tuples})
	if err != nil {
		panic(err)
	}
	// One Request per API request shares results between its checks.
	ctx = authz.WithRequest(ctx, engine.NewRequest())
	ada := authz.ObjectRef{Type: authz.TypeUser, ID: "ada"}.Subject()
	vm1 := authz.ObjectRef{Type: authz.TypeResource, ID: "vm1"}

	d, _ := engine.Check(ctx, ada, "connect", vm1)
	fmt.Println(d.Allowed, d.Reason, d.RelationPath())
	d, _ = engine.Check(ctx, ada, "manage", vm1)
	fmt.Println(d.Allowed, d.Reason, d.RelationPath())

	// After the transaction that revoked the grant commits:
	revoke, _ := authz.ParseTuple("group:oncall#member@user:ada")
	_ = tuples.Delete(revoke)
	d, _ = engine.Check(context.Background(), ada, "connect", vm1)
	fmt.Println(d.Allowed, d.Reason)
	// Output:
	// true granted [resource:vm1#connect resource:vm1#operator resource:vm1#project project:web#operator group:oncall#member]
	// false insufficient_relation [resource:vm1#operator resource:vm1#project project:web#operator group:oncall#member]
	// false out_of_scope
}
