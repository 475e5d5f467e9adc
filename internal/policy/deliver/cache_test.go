package deliver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// TestRolledBackChangeLeavesNoTrace: a relabel whose transaction rolls
// back was applied to the cached index; the next reader must not see it.
func TestRolledBackChangeLeavesNoTrace(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "deny")
			before := f.state(t, "db1", 2)
			abort := errors.New("abort")
			err := f.db.Tx(context.Background(), func(tx *sql.Tx) error {
				ctx := context.Background()
				if err := setRole(ctx, tx, "batch1", "web"); err != nil {
					return err
				}
				if err := f.svc.NodeLabelsChanged(ctx, tx, "batch1"); err != nil {
					return err
				}
				return abort
			})
			if !errors.Is(err, abort) {
				t.Fatalf("tx: %v", err)
			}
			after := f.state(t, "db1", 2)
			if after.Policy.Fingerprint != before.Policy.Fingerprint || len(after.Peers) != len(before.Peers) {
				t.Fatalf("a rolled-back relabel is visible: %v → %v", before.Policy.Rules, after.Policy.Rules)
			}
			// The next committed change starts from the database, not the
			// rolled-back index.
			f.relabel(t, "web2", "batch")
			if got := peerIDs(f.state(t, "db1", 2)); len(got) != 1 || got[0] != "web1" {
				t.Fatalf("db1 peers %v, want web1", got)
			}
		})
	}
}

// TestConcurrentChangesConverge: relabels of different nodes race with
// state reads; afterwards the cached view equals one rebuilt from the
// database.
func TestConcurrentChangesConverge(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "deny")
			for i := range 6 {
				f.join(t, fmt.Sprintf("x%d", i), fmt.Sprintf("100.64.0.%d", 10+i), "batch", 2)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 6 {
				wg.Add(2)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("x%d", i)
					for j := range 4 {
						role := []string{"web", "batch"}[j%2]
						errs <- f.db.Tx(context.Background(), func(tx *sql.Tx) error {
							ctx := context.Background()
							if err := setRole(ctx, tx, id, role); err != nil {
								return err
							}
							return f.svc.NodeLabelsChanged(ctx, tx, id)
						})
					}
				}()
				go func() {
					defer wg.Done()
					for range 4 {
						f.state(t, "db1", 2)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			cached := f.state(t, "db1", 2)
			f.svc.Forget()
			fresh := f.state(t, "db1", 2)
			if cached.Policy.Fingerprint != fresh.Policy.Fingerprint {
				t.Fatalf("cached view diverged: %v vs %v", cached.Policy.Rules, fresh.Policy.Rules)
			}
			if len(fresh.Policy.Rules) != 1 {
				t.Fatalf("after the races every x is batch again: %v", fresh.Policy.Rules)
			}
		})
	}
}
