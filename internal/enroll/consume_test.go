package enroll_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/enroll"
)

// TestConsumeTakesOneUse drives the conditional consume that serialises
// racing redemptions (enrol.go) directly, so its guard is tested without
// depending on a race: each call takes exactly one use, the use that
// reaches max_uses marks the token consumed, and a used-up, expired or
// revoked token yields ErrTokenLost and keeps its count. The pre-checks of
// registration (tokenState) mask this guard in sequential tests; only
// concurrent redemptions reach it. On both databases.
//
// Mutations (issue 17): drop `AND uses < max_uses` from the UPDATE, accept
// a consume that matched no row (`n > 1` for `n != 1`), or never set
// consumed_at → this test fails.
func TestConsumeTakesOneUse(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "consume", "100.87.0.0/16", "")
			ctx := context.Background()
			now := time.Now()
			consume := func(id string, at time.Time) error {
				return e.Server.DB.Tx(ctx, func(tx *sql.Tx) error { return enroll.Consume(ctx, tx, id, at) })
			}
			state := func(id string) (uses int, consumed bool) {
				t.Helper()
				var at sql.NullInt64
				if err := e.Server.DB.QueryRow(`SELECT uses, consumed_at FROM bootstrap_tokens WHERE id = $1`, id).
					Scan(&uses, &at); err != nil {
					t.Fatal(err)
				}
				return uses, at.Valid
			}
			want := func(id string, err error, wantErr error, wantUses int, wantConsumed bool) {
				t.Helper()
				if !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
					t.Fatalf("consume: %v, want %v", err, wantErr)
				}
				if uses, consumed := state(id); uses != wantUses || consumed != wantConsumed {
					t.Fatalf("after consume: uses %d, consumed %v; want %d, %v", uses, consumed, wantUses, wantConsumed)
				}
			}

			two := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 2}).TokenID
			want(two, consume(two, now), nil, 1, false)
			want(two, consume(two, now), nil, 2, true)
			want(two, consume(two, now), enroll.ErrTokenLost, 2, true)

			once := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).TokenID
			want(once, consume(once, now), nil, 1, true)
			want(once, consume(once, now), enroll.ErrTokenLost, 1, true)

			// MaxTokenTTL is a day: two days on, every token has expired.
			expired := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).TokenID
			want(expired, consume(expired, now.Add(2*enroll.MaxTokenTTL)), enroll.ErrTokenLost, 0, false)

			revoked := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).TokenID
			if st, raw := e.Do(t, "DELETE", "/v1/projects/"+f.project.ID+"/bootstrap-tokens/"+revoked, nil, nil); st != 204 {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			want(revoked, consume(revoked, now), enroll.ErrTokenLost, 0, false)
		})
	}
}
