package opevents

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// BenchmarkAuditAppend measures one audit append in its own transaction on
// a Domain chain, without and with the operator event hook (which adds the
// audit_appended event: a head upsert and an insert).
func BenchmarkAuditAppend(b *testing.B) {
	for _, hooked := range []bool{false, true} {
		name := "plain"
		if hooked {
			name = "with_operator_events"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, store.Config{URL: storetest.DatabaseURL(b, storetest.SQLite), SQLitePath: filepath.Join(b.TempDir(), "db")})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx, nil); err != nil {
				b.Fatal(err)
			}
			const domain = "0190c0de-0000-7000-8000-000000000001"
			if _, err := db.ExecContext(ctx, `INSERT INTO audit_chains (chain_id, last_seq, last_hash) VALUES ($1, 0, $2)`,
				domain, "0000000000000000000000000000000000000000000000000000000000000000"); err != nil {
				b.Fatal(err)
			}
			log, err := audit.New(audit.Config{DB: db, Pepper: make([]byte, 32)})
			if err != nil {
				b.Fatal(err)
			}
			if hooked {
				s, err := New(Config{DB: db, Authz: nopChecker{}, Decider: nopDecider{}})
				if err != nil {
					b.Fatal(err)
				}
				log.OnAppend(s.FromAudit)
			}
			b.ResetTimer()
			for range b.N {
				if err := db.Tx(ctx, func(tx *sql.Tx) error {
					_, err := log.Append(ctx, tx, audit.Entry{ChainID: domain, Action: "project.update", Outcome: audit.Succeeded,
						ObjectType: "project", ObjectID: "p", IdentityRef: "user:u"})
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
