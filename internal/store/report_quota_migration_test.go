package store

import (
	"context"
	"testing"

	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// Issue 7 row 12: migration 00013 gives existing node reports their size
// for the per-node quota and deletes what removed (or unknown) nodes left
// behind in node_reports and node_agents.
func TestReportQuotaMigration(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db, p := migratedTo(t, b, 12)
			node := `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, public_key, mesh_ip, nsk_digest,
				nsk_sealed, labels, created_at, updated_at, revoked_at) VALUES ($1, 'd', 'p', 'r', 't', 'node', $1, NULL, $1, '', '{}', 1, 1, $2)`
			report := `INSERT INTO node_reports (node_id, report_key, content_type, payload, version, updated_at, received_at)
				VALUES ($1, 'key', 'text/plain', '"payload"', 1, 1, 1)`
			for _, s := range []struct {
				q    string
				args []any
			}{
				{node, []any{"live", nil}}, {node, []any{"gone", int64(5)}},
				{report, []any{"live"}}, {report, []any{"gone"}}, {report, []any{"unknown"}},
				{`INSERT INTO node_agents (node_id) VALUES ($1)`, []any{"live"}},
				{`INSERT INTO node_agents (node_id) VALUES ($1)`, []any{"gone"}},
			} {
				if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
					t.Fatalf("%s: %v", s.q, err)
				}
			}
			if _, err := p.UpTo(ctx, 13); err != nil {
				t.Fatal(err)
			}
			var reports, agents int
			var size int64
			db.QueryRowContext(ctx, `SELECT COUNT(*) FROM node_reports`).Scan(&reports)
			db.QueryRowContext(ctx, `SELECT COUNT(*) FROM node_agents`).Scan(&agents)
			db.QueryRowContext(ctx, `SELECT size_bytes FROM node_reports WHERE node_id = 'live'`).Scan(&size)
			if reports != 1 || agents != 1 || size != int64(len("key")+len("text/plain")+len(`"payload"`)) {
				t.Errorf("after 00013: %d reports, %d agent rows, live size %d", reports, agents, size)
			}
		})
	}
}
