package events

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/plexsphere/plexsphere/internal/store"
)

// hub wakes connected streams when entries for their node commit. It holds
// no events: a woken stream reads its own log from its last sequence
// number, so a wake-up is one non-blocking channel send and a stream costs
// a few hundred bytes here, whatever the traffic.
//
// On SQLite (one process) Emit queues the addressed nodes and pokes the
// hub's one goroutine, which waits for the emitting transaction to end by
// taking the database's write lock (every transaction begins IMMEDIATE),
// then wakes them. On PostgreSQL Emit issues pg_notify inside the
// transaction; PostgreSQL delivers it only on commit, to every replica
// listening on the schema's channel, this one included. A node's removal
// travels the same way (announceGone) and ends its stream instead.
type hub struct {
	db      *store.DB
	pgURL   string
	log     *slog.Logger
	channel string
	ready   atomic.Bool
	poke    chan struct{}

	// mu guards subs, pending, gone and closed.
	mu      sync.Mutex
	subs    map[string]*subscriber
	pending []string
	gone    []string // SQLite: nodes whose removal may have committed
	closed  bool
}

// gonePrefix marks a notification that a node was removed: its payload is
// the prefix and the node id (event ids are UUIDs, never this).
const gonePrefix = "gone:"

// subscriber is one open stream.
type subscriber struct {
	nodeID string
	wake   chan struct{} // capacity 1: wake-ups coalesce
	done   chan struct{} // closed when a newer stream replaces it or the hub closes
}

func newHub(db *store.DB, pgURL string, log *slog.Logger) *hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &hub{db: db, pgURL: pgURL, log: log, poke: make(chan struct{}, 1), subs: map[string]*subscriber{}}
}

// init names the notification channel after the schema, so replicas on one
// schema share it and tests on other schemas stay apart.
func (h *hub) init(ctx context.Context) error {
	if h.db.Dialect() != store.Postgres {
		h.ready.Store(true)
		return nil
	}
	var schema string
	if err := h.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("events: current schema: %w", err)
	}
	h.channel = "plexsphere_events." + schema
	return nil
}

// subscribe registers a stream of nodeID, ending any older one (§6.1: one
// stream per node).
func (h *hub) subscribe(nodeID string) *subscriber {
	sub := &subscriber{nodeID: nodeID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(sub.done)
		return sub
	}
	if old := h.subs[nodeID]; old != nil {
		close(old.done)
	}
	h.subs[nodeID] = sub
	return sub
}

// unsubscribe removes sub unless a newer stream already replaced it.
func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[sub.nodeID] == sub {
		delete(h.subs, sub.nodeID)
	}
}

// count is the number of open streams.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *hub) wakeNodes(ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if sub := h.subs[id]; sub != nil {
			wakeOne(sub)
		}
	}
}

func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, sub := range h.subs {
		wakeOne(sub)
	}
}

func wakeOne(sub *subscriber) {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// end closes the open streams of ids (their nodes were removed).
func (h *hub) end(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if sub := h.subs[id]; sub != nil {
			close(sub.done)
			delete(h.subs, id)
		}
	}
}

// subscribed lists the nodes with an open stream.
func (h *hub) subscribed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.subs))
	for id := range h.subs {
		ids = append(ids, id)
	}
	return ids
}

// endRemoved closes the open streams of removed nodes, the safety net for
// a removal notice missed while the listener was down.
func (h *hub) endRemoved(ctx context.Context) {
	ids, err := removedNodes(ctx, h.db, h.subscribed())
	if err != nil {
		h.log.WarnContext(ctx, "event stream removal check failed", "error", err)
		return
	}
	h.end(ids...)
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, sub := range h.subs {
		close(sub.done)
		delete(h.subs, id)
	}
}

// announceGone makes the commit of tx, which removes nodeID, end its open
// stream on every replica: a notification on PostgreSQL (delivered on
// commit only); on SQLite a note the fan-out takes after the write lock,
// acting only if the node is removed by then (tx may have rolled back).
func (h *hub) announceGone(ctx context.Context, tx *sql.Tx, nodeID string) error {
	if h.db.Dialect() == store.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, h.channel, gonePrefix+nodeID); err != nil {
			return fmt.Errorf("events: notify: %w", err)
		}
		return nil
	}
	h.mu.Lock()
	h.gone = append(h.gone, nodeID)
	h.mu.Unlock()
	select {
	case h.poke <- struct{}{}:
	default:
	}
	return nil
}

// announce makes the commit of tx wake the streams of ids.
func (h *hub) announce(ctx context.Context, tx *sql.Tx, eventID string, ids []string) error {
	if h.db.Dialect() == store.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, h.channel, eventID); err != nil {
			return fmt.Errorf("events: notify: %w", err)
		}
		return nil
	}
	h.mu.Lock()
	h.pending = append(h.pending, ids...)
	h.mu.Unlock()
	select {
	case h.poke <- struct{}{}:
	default:
	}
	return nil
}

func (h *hub) run(ctx context.Context) {
	if h.db.Dialect() == store.Postgres {
		h.listen(ctx)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.poke:
		}
		h.mu.Lock()
		ids, gone := h.pending, h.gone
		h.pending, h.gone = nil, nil
		h.mu.Unlock()
		// The emitting transactions hold the write lock until they end;
		// taking it here waits for them.
		if err := h.db.Tx(ctx, func(*sql.Tx) error { return nil }); err != nil && ctx.Err() == nil {
			h.log.WarnContext(ctx, "event fan-out barrier failed", "error", err)
		}
		h.wakeNodes(ids)
		if len(gone) > 0 {
			removed, err := removedNodes(ctx, h.db, gone)
			if err != nil && ctx.Err() == nil {
				h.log.WarnContext(ctx, "event stream removal check failed", "error", err)
			}
			h.end(removed...)
		}
	}
}

// listen keeps a LISTEN connection open, reconnecting with backoff. While it
// is down the hub is not ready; after each (re)connect every stream re-reads
// its log, covering notifications missed meanwhile.
func (h *hub) listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := h.listenOnce(ctx)
		h.ready.Store(false)
		if ctx.Err() != nil {
			return
		}
		h.log.WarnContext(ctx, "event listener disconnected", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (h *hub) listenOnce(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, h.pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{h.channel}.Sanitize()); err != nil {
		return err
	}
	h.ready.Store(true)
	h.wakeAll()
	h.endRemoved(ctx)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, ok := strings.CutPrefix(n.Payload, gonePrefix); ok {
			h.end(id)
			continue
		}
		if h.count() == 0 {
			continue
		}
		ids, err := h.nodesOf(ctx, n.Payload)
		if err != nil {
			h.log.WarnContext(ctx, "event fan-out lookup failed", "error", err)
			h.wakeAll()
			continue
		}
		h.wakeNodes(ids)
	}
}

// nodesOf lists the nodes an event was appended for.
func (h *hub) nodesOf(ctx context.Context, eventID string) ([]string, error) {
	return store.Strings(ctx, h.db, `SELECT node_id FROM event_log WHERE event_id = $1`, eventID)
}
