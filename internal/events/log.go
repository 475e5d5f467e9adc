package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/store"
)

// chunk bounds the rows of one multi-row statement (SQLite's default
// variable limit is far above 9 × chunk).
const chunk = 400

// Entry is one event to append to a set of node logs.
type Entry struct {
	// Type is the event_type (§10).
	Type string
	// Payload is a JSON object, or a value that marshals to one.
	Payload any
	// KeyID, when set, overrides the key recorded for signing (K4: the
	// signing_key_rotated entry is signed with the outgoing key).
	KeyID string
	// VoidAfter, when set, is the time after which the entry is no longer
	// emitted (L7: expired session setups and relay assignments, action
	// request deadlines).
	VoidAfter time.Time
}

// Emit appends one event of eventType with payload to the log of every node
// in nodeIDs, inside tx: the change that caused it and the event commit
// together (outbox, E2). Every node gets its next sequence number; all
// entries share one event_id. Connected streams are woken after commit.
//
// Emit refuses an event whose envelope would break the SSE line limit (F2,
// envelope.ErrTooLarge) and nodes the Directory does not know
// (ErrUnknownNode); the caller then rolls back, or splits the event.
func (s *Service) Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error {
	_, err := s.Append(ctx, tx, nodeIDs, Entry{Type: eventType, Payload: payload})
	return err
}

// Append is Emit with the entry's options. It returns the event_id.
func (s *Service) Append(ctx context.Context, tx *sql.Tx, nodeIDs []string, e Entry) (string, error) {
	payload, err := marshalPayload(e.Payload)
	if err != nil {
		return "", err
	}
	eventID := uuid.Must(uuid.NewV7()).String()
	if err := s.sizer.CheckSize(envelope.Event{Type: e.Type, ID: eventID, Payload: payload}); err != nil {
		return "", fmt.Errorf("events: %s: %w", e.Type, err)
	}
	ids := slices.Clone(nodeIDs)
	slices.Sort(ids) // one lock order on the heads: no deadlock between emitters
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return eventID, nil
	}
	domains, err := domainsOf(ctx, s.cfg.Directory, tx, ids)
	if err != nil {
		return "", err
	}
	keyIDs := map[string]string{}
	for _, d := range domains {
		if _, ok := keyIDs[d]; ok {
			continue
		}
		k := e.KeyID
		if k == "" {
			if k, err = s.cfg.Keys.CurrentKeyID(ctx, tx, d); err != nil {
				return "", fmt.Errorf("events: signing key of domain %s: %w", d, err)
			}
		}
		keyIDs[d] = k
	}
	var void *int64
	if !e.VoidAfter.IsZero() {
		v := store.Micros(e.VoidAfter)
		void = &v
	}
	row := logRow{eventID: eventID, eventType: e.Type, payload: string(payload), created: store.Micros(s.cfg.Now()), void: void}
	for part := range slices.Chunk(ids, chunk) {
		if err := s.insertEntries(ctx, tx, part, domains, keyIDs, row); err != nil {
			return "", err
		}
	}
	if err := s.hub.announce(ctx, tx, eventID, ids); err != nil {
		return "", err
	}
	return eventID, nil
}

// logRow is what every node's entry of one append shares.
type logRow struct {
	eventID, eventType, payload string
	created                     int64
	void                        *int64
}

// insertEntries appends row to the logs of ids (at most chunk), each at
// its node's next sequence number.
func (s *Service) insertEntries(ctx context.Context, tx *sql.Tx, ids []string, domains, keyIDs map[string]string, row logRow) error {
	seqs, err := s.nextSeqs(ctx, tx, ids)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO event_log (node_id, seq, event_id, event_type, payload, domain_id, key_id, created_at, void_after) VALUES `)
	args := make([]any, 0, 9*len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
		d := domains[id]
		args = append(args, id, seqs[id], row.eventID, row.eventType, row.payload, d, keyIDs[d], row.created, row.void)
	}
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("events: append: %w", err)
	}
	return nil
}

// nextSeqs advances the heads of ids (sorted, distinct) and returns each
// node's new sequence number. The head row stays locked until tx ends, so
// a node's entries commit in sequence order.
func (s *Service) nextSeqs(ctx context.Context, tx *sql.Tx, ids []string) (map[string]int64, error) {
	var b strings.Builder
	b.WriteString(`INSERT INTO event_heads (node_id, last_seq) VALUES `)
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		if s.db.Dialect() == store.SQLite {
			b.WriteString("(?,1)")
		} else {
			fmt.Fprintf(&b, "($%d,1)", i+1)
		}
		args[i] = id
	}
	b.WriteString(` ON CONFLICT (node_id) DO UPDATE SET last_seq = event_heads.last_seq + 1 RETURNING node_id, last_seq`)
	rows, err := tx.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("events: advance heads: %w", err)
	}
	defer rows.Close()
	seqs := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("events: advance heads: %w", err)
		}
		seqs[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: advance heads: %w", err)
	}
	if len(seqs) != len(ids) {
		return nil, fmt.Errorf("events: advance heads: %d of %d rows", len(seqs), len(ids))
	}
	return seqs, nil
}

func marshalPayload(p any) (json.RawMessage, error) {
	var raw json.RawMessage
	switch v := p.(type) {
	case nil:
		raw = json.RawMessage(`{}`)
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		b, err := envelope.MarshalPayload(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	c, err := envelope.CanonicalPayload(raw)
	if err != nil {
		return nil, fmt.Errorf("events: payload: %w", err)
	}
	if len(c) == 0 || c[0] != '{' {
		return nil, errors.New("events: payload is not a JSON object (E1)")
	}
	return c, nil
}

// Void marks node nodeID's entries of eventID void (L7: an acknowledged
// action request): they are no longer emitted, live or on replay.
func (s *Service) Void(ctx context.Context, q store.Querier, nodeID, eventID string) error {
	if _, err := q.ExecContext(ctx, `UPDATE event_log SET void_after = 0 WHERE node_id = $1 AND event_id = $2`, nodeID, eventID); err != nil {
		return fmt.Errorf("events: void: %w", err)
	}
	return nil
}

// Prune applies retention: entries older than MaxAge, and entries more than
// MaxEntries behind their node's head. Only prefixes of a log go, so a
// resume point at or after the oldest kept entry's predecessor stays valid.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	cutoff := store.Micros(s.cfg.Now().Add(-s.cfg.MaxAge))
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM event_log WHERE created_at < $1`, []any{cutoff}},
		// Only nodes past the bound, reached through the primary key.
		{`DELETE FROM event_log WHERE node_id IN (SELECT node_id FROM event_heads WHERE last_seq > $1)
			AND seq <= (SELECT h.last_seq FROM event_heads h WHERE h.node_id = event_log.node_id) - $1`, []any{s.cfg.MaxEntries}},
	} {
		res, err := s.db.ExecContext(ctx, q.sql, q.args...)
		if err != nil {
			return total, fmt.Errorf("events: prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// ConsumeReconcile reports, and clears, whether nodeID's next heartbeat
// must answer reconcile: true because a stream could not resume (L5).
func (s *Service) ConsumeReconcile(ctx context.Context, nodeID string) (bool, error) {
	var rec bool
	err := s.db.QueryRowContext(ctx,
		`UPDATE event_heads SET reconcile = FALSE WHERE node_id = $1 AND reconcile RETURNING TRUE`, nodeID).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("events: reconcile flag: %w", err)
	}
	return rec, nil
}

// record is one stored log entry.
type record struct {
	seq       int64
	eventID   string
	eventType string
	payload   []byte
	domainID  string
	keyID     string
	voidAfter sql.NullInt64
}

// read returns up to limit entries of nodeID after seq, in order.
func (s *Service) read(ctx context.Context, nodeID string, after int64, limit int) ([]record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, event_id, event_type, payload, domain_id, key_id, void_after
		FROM event_log WHERE node_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, nodeID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: read log: %v", store.ErrUnavailable, err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var r record
		var p string
		if err := rows.Scan(&r.seq, &r.eventID, &r.eventType, &p, &r.domainID, &r.keyID, &r.voidAfter); err != nil {
			return nil, fmt.Errorf("events: read log: %w", err)
		}
		r.payload = []byte(p)
		out = append(out, r)
	}
	return out, rows.Err()
}

// resume decides where a stream of nodeID starts (L4–L6): strictly after
// lastID when that is a valid resume point, else at the live head, flagging
// the node's next heartbeat for a reconcile when lastID was given but
// unusable.
func (s *Service) resume(ctx context.Context, nodeID, lastID string) (int64, error) {
	var head int64
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT last_seq FROM event_heads WHERE node_id = $1), 0),
		(SELECT MIN(seq) FROM event_log WHERE node_id = $1)`, nodeID).Scan(&head, &oldest)
	if err != nil {
		return 0, fmt.Errorf("%w: read head: %v", store.ErrUnavailable, err)
	}
	if lastID == "" {
		return head, nil // L6
	}
	if s, ok := parseSeq(lastID); ok && s <= head {
		// Retention drops prefixes only: entries after s are all kept iff
		// s is at or after the newest pruned sequence number.
		floor := head
		if oldest.Valid {
			floor = oldest.Int64 - 1
		}
		if s >= floor {
			return s, nil
		}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO event_heads (node_id, last_seq, reconcile) VALUES ($1, 0, TRUE)
		ON CONFLICT (node_id) DO UPDATE SET reconcile = TRUE`, nodeID); err != nil {
		return 0, fmt.Errorf("%w: flag reconcile: %v", store.ErrUnavailable, err)
	}
	return head, nil
}

// parseSeq parses a Last-Event-ID as a log sequence number: decimal digits
// only, no sign, fitting an int64.
func parseSeq(v string) (int64, bool) {
	if v == "" || len(v) > 19 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
