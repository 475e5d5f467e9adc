package events

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/store"
)

// EmitEach appends one event of eventType to the log of every node in
// payloads, each with its own payload (a peer record differs per recipient
// by its PSK and path), inside tx. The entries share one event_id, as an
// Emit to many nodes does; rows go in multi-row INSERTs of at most chunk
// nodes, so 10,000 recipients cost 25 round trips for the heads and 25
// for the entries. The checks are Emit's: every payload a JSON object
// within the line limit (F2), every node known to the Directory.
func (s *Service) EmitEach(ctx context.Context, tx *sql.Tx, eventType string, payloads map[string]any) error {
	if len(payloads) == 0 {
		return nil
	}
	eventID := uuid.Must(uuid.NewV7()).String()
	ids := slices.Sorted(maps.Keys(payloads)) // Emit's lock order on the heads
	bodies := make(map[string]string, len(ids))
	for _, id := range ids {
		p, err := marshalPayload(payloads[id])
		if err != nil {
			return err
		}
		if err := s.sizer.CheckSize(envelope.Event{Type: eventType, ID: eventID, Payload: p}); err != nil {
			return fmt.Errorf("events: %s for %s: %w", eventType, id, err)
		}
		bodies[id] = string(p)
	}
	domains, err := domainsOf(ctx, s.cfg.Directory, tx, ids)
	if err != nil {
		return err
	}
	keyIDs := map[string]string{}
	for _, d := range domains {
		if _, ok := keyIDs[d]; !ok {
			if keyIDs[d], err = s.cfg.Keys.CurrentKeyID(ctx, tx, d); err != nil {
				return fmt.Errorf("events: signing key of domain %s: %w", d, err)
			}
		}
	}
	created := store.Micros(s.cfg.Now())
	for part := range slices.Chunk(ids, chunk) {
		seqs, err := s.nextSeqs(ctx, tx, part)
		if err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO event_log (node_id, seq, event_id, event_type, payload, domain_id, key_id, created_at) VALUES `)
		args := make([]any, 0, 8*len(part))
		for i, id := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			n := len(args)
			if s.db.Dialect() == store.SQLite {
				b.WriteString("(?,?,?,?,?,?,?,?)")
			} else {
				fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8)
			}
			d := domains[id]
			args = append(args, id, seqs[id], eventID, eventType, bodies[id], d, keyIDs[d], created)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("events: append: %w", err)
		}
	}
	return s.hub.announce(ctx, tx, eventID, ids)
}
