package opevents

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/guard"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

type nopChecker struct{}

func (nopChecker) Check(context.Context, string, string) error { return nil }

type nopDecider struct{}

func (nopDecider) Decide(context.Context, *principal.Principal, string, string) (guard.Decision, error) {
	return guard.Decision{Allowed: true}, nil
}
func (nopDecider) Begin(ctx context.Context) context.Context { return ctx }

// The log keeps the newest Retain events per Domain and none older than
// RetainFor, and sequence numbers are per Domain and never reused.
func TestPruneBoundsEachDomain(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, store.Config{URL: storetest.DatabaseURL(t, b), SQLitePath: filepath.Join(t.TempDir(), "db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx, nil); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			s, err := New(Config{DB: db, Authz: nopChecker{}, Decider: nopDecider{}, Retain: 3, RetainFor: time.Hour,
				Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			record := func(domain string, n int) {
				for range n {
					if err := db.Tx(ctx, func(tx *sql.Tx) error {
						return s.Record(ctx, tx, Event{DomainID: domain, Type: AuditAppended, ObjectType: "domain", ObjectID: domain,
							Payload: AuditSummary{DomainID: domain}})
					}); err != nil {
						t.Fatal(err)
					}
				}
			}
			record("a", 5)
			record("b", 2)
			now = now.Add(2 * time.Hour)
			record("c", 1) // the only recent one
			now = now.Add(-2 * time.Hour)
			if err := s.Prune(ctx); err != nil {
				t.Fatal(err)
			}
			seqs := func(domain string) []int64 {
				rows, err := db.QueryContext(ctx, `SELECT seq FROM operator_events WHERE domain_id = $1 ORDER BY seq`, domain)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []int64
				for rows.Next() {
					var v int64
					rows.Scan(&v)
					out = append(out, v)
				}
				return out
			}
			if got := seqs("a"); len(got) != 3 || got[0] != 3 || got[2] != 5 {
				t.Fatalf("a kept %v, want [3 4 5]", got)
			}
			if got := seqs("b"); len(got) != 2 {
				t.Fatalf("b kept %v", got)
			}
			now = now.Add(90 * time.Minute) // a and b are now older than RetainFor
			if err := s.Prune(ctx); err != nil {
				t.Fatal(err)
			}
			if len(seqs("a")) != 0 || len(seqs("b")) != 0 || len(seqs("c")) != 1 {
				t.Fatalf("after RetainFor: a %v b %v c %v", seqs("a"), seqs("b"), seqs("c"))
			}
			record("a", 1)
			if got := seqs("a"); len(got) != 1 || got[0] != 6 {
				t.Fatalf("a sequence restarted: %v", got)
			}
		})
	}
}

func TestProjectReachability(t *testing.T) {
	now := time.Now().UnixMicro()
	ago := func(d time.Duration) sql.NullInt64 { return sql.NullInt64{Valid: true, Int64: now - d.Microseconds()} }
	for _, c := range []struct {
		last         sql.NullInt64
		stale, unrch string
		want         string
	}{
		{sql.NullInt64{}, "", "", "unreachable"},
		{ago(time.Second), "", "", "healthy"},
		{ago(2 * time.Minute), "", "", "stale"},
		{ago(10 * time.Minute), "", "", "unreachable"},
		{ago(20 * time.Second), "10s", "30s", "stale"},
		{ago(40 * time.Second), "10s", "30s", "unreachable"},
		{ago(40 * time.Second), "10s", "5s", "stale"}, // unreachable_after not above stale: default 5 m
	} {
		if got := project(c.last, now, c.stale, c.unrch); got != c.want {
			t.Errorf("%+v: %s", c, got)
		}
	}
}
