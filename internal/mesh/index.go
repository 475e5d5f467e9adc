package mesh

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store"
)

// The member index: an announcement about one node goes to every other
// live node of its Domain, so Announce would read all of them (9,999 rows
// in a Domain of 10,000). Instead the Service keeps, per Domain, the live
// nodes with a mesh address and what rendering needs of them as viewers
// (id, level, PSK epoch), tagged with the Domain's member token.
//
// The token is a random number stored in mesh_member_tokens, replaced
// inside the transaction of every membership or PSK-epoch change: Allocate
// (a join), Release (a leave), RotatePSKs and Announce of peer_added,
// peer_removed and peer_key_rotated. Replacing it locks its row until the
// transaction ends, so the changes of one Domain queue behind each other
// on every replica. A transaction that replaces the token and names the
// changed node patches an index that was at the old token (one indexed
// read of that node); Allocate and Release do not know the node yet and
// leave the patch to the Announce of the same transaction. Any other
// index (a restart, a rollback, a change made by another replica or
// Service) no longer matches the token and is rebuilt from the
// transaction on its next use. Tokens are random, never counted, so a
// rolled-back transaction's token cannot come back for other contents.
// Contract: a change of a node's membership or PSK epoch is announced (or
// goes through Allocate, Release or RotatePSKs) in its own transaction
// before that transaction reads the index.
//
// A node's level rises without any of these (its agent announces a
// higher protocol level in a heartbeat, internal/events): the index
// re-reads the announced level of its members below nodeproto.MaxLevel on
// every use, and raises it (levels never go down for a live node).

// viewer is what rendering needs of a node that receives a record.
type viewer struct {
	id    string
	level int
	epoch int64
}

// memberIndex is a Domain's live nodes with a mesh address, sorted by id,
// as of token; pendingTx replaced token by pendingTo without naming the
// node it changes (Allocate, Release), and patches the index when it does.
type memberIndex struct {
	token     int64
	members   []viewer
	pendingTx *sql.Tx
	pendingTo int64
}

// find is the position of id in x.members, and whether it is there.
func (x *memberIndex) find(id string) (int, bool) {
	return slices.BinarySearchFunc(x.members, id, func(v viewer, id string) int { return strings.Compare(v.id, id) })
}

// patch applies one node's current row: present and live, it is added or
// replaced; otherwise it is dropped.
func (x *memberIndex) patch(id string, v viewer, live bool) {
	i, ok := x.find(id)
	switch {
	case live && ok:
		x.members[i] = v
	case live:
		x.members = slices.Insert(x.members, i, v)
	case ok:
		x.members = slices.Delete(x.members, i, i+1)
	}
}

// without copies the members other than self.
func (x *memberIndex) without(self string) []viewer {
	i, ok := x.find(self)
	if !ok {
		return slices.Clone(x.members)
	}
	out := make([]viewer, 0, len(x.members)-1)
	return append(append(out, x.members[:i]...), x.members[i+1:]...)
}

// raise lifts the level of the listed members (never lowers one).
func (x *memberIndex) raise(levels map[string]int) {
	for id, l := range levels {
		if i, ok := x.find(id); ok && l > x.members[i].level {
			x.members[i].level = l
		}
	}
}

// readToken is the Domain's member token (0 before its first change).
func readToken(ctx context.Context, q store.Querier, domainID string) (int64, error) {
	var t int64
	err := q.QueryRowContext(ctx, `SELECT token FROM mesh_member_tokens WHERE domain_id = $1`, domainID).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mesh: member token: %w", err)
	}
	return t, nil
}

// replaceToken gives the Domain a new member token inside tx and returns
// the one it replaces, locking the token's row until tx ends (the row is
// created first, so two first changes queue as well).
func (s *Service) replaceToken(ctx context.Context, tx *sql.Tx, domainID string) (old, next int64, err error) {
	if _, err = tx.ExecContext(ctx, `INSERT INTO mesh_member_tokens (domain_id, token) VALUES ($1, 0)
		ON CONFLICT (domain_id) DO NOTHING`, domainID); err == nil {
		err = tx.QueryRowContext(ctx, `SELECT token FROM mesh_member_tokens WHERE domain_id = $1`+
			s.db.ForUpdate(), domainID).Scan(&old)
	}
	if err == nil {
		next = newToken()
		_, err = tx.ExecContext(ctx, `UPDATE mesh_member_tokens SET token = $2 WHERE domain_id = $1`, domainID, next)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("mesh: member token: %w", err)
	}
	return old, next, nil
}

// newToken is a random positive token.
func newToken() int64 {
	var b [8]byte
	rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])>>1) | 1
}

// nodeRow is one node as the index sees it, whatever its state.
type nodeRow struct {
	viewer
	domainID string
	live     bool // not revoked, with a mesh address
}

// readNodeRow reads id's row; ok false when there is none.
func readNodeRow(ctx context.Context, q store.Querier, id string) (r nodeRow, ok bool, err error) {
	var live, announced int
	err = q.QueryRowContext(ctx, `SELECT n.domain_id, CASE WHEN n.revoked_at IS NULL AND n.mesh_ip IS NOT NULL THEN 1 ELSE 0 END,
		n.registered_level, COALESCE(a.protocol_level, 0), n.psk_epoch
		FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id WHERE n.id = $1`, id).
		Scan(&r.domainID, &live, &r.level, &announced, &r.epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("mesh: node %s: %w", id, err)
	}
	r.id, r.live, r.level = id, live == 1, max(r.level, announced)
	return r, true, nil
}

// changed records a change of nodeID's membership or PSK epoch inside tx:
// the Domain's token is replaced and an index at the previous token
// patched with the node's row. A node that does not exist changes
// nothing.
func (s *Service) changed(ctx context.Context, tx *sql.Tx, nodeID string) error {
	r, ok, err := readNodeRow(ctx, tx, nodeID)
	if err != nil || !ok {
		return err
	}
	return s.changedIn(ctx, tx, r.domainID, &r)
}

// changedIn replaces domainID's token inside tx and brings the index
// along: patched with r when it was at the old token (or tx announced
// the change before), marked pending for tx when r is nil (the node is
// not known yet), forgotten otherwise.
func (s *Service) changedIn(ctx context.Context, tx *sql.Tx, domainID string, r *nodeRow) error {
	old, next, err := s.replaceToken(ctx, tx, domainID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.indexes[domainID]
	switch {
	case x == nil:
	case r == nil && x.token == old:
		x.pendingTx, x.pendingTo = tx, next
	case r != nil && (x.token == old || (x.pendingTx == tx && x.pendingTo == old)):
		x.patch(r.id, r.viewer, r.live)
		x.token, x.pendingTx = next, nil
	default:
		delete(s.indexes, domainID)
	}
	return nil
}

// viewersOf is the live nodes of domainID with a mesh address other than
// self (the recipients of an announcement about self), unsorted: from the
// index when it is at the Domain's token, else from a rebuilt one; with
// the levels of those below nodeproto.MaxLevel read again.
func (s *Service) viewersOf(ctx context.Context, tx *sql.Tx, domainID, self string) ([]viewer, error) {
	token, err := readToken(ctx, tx, domainID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	x := s.indexes[domainID]
	if x == nil || x.token != token {
		s.mu.Unlock()
		members, err := readMembers(ctx, tx, domainID)
		if err != nil {
			return nil, err
		}
		x = &memberIndex{token: token, members: members}
		s.mu.Lock()
		s.indexes[domainID] = x
	}
	out := x.without(self)
	s.mu.Unlock()
	levels, err := announcedLevels(ctx, tx, domainID, out)
	if err != nil || len(levels) == 0 {
		return out, err
	}
	for i := range out {
		if l, ok := levels[out[i].id]; ok && l > out[i].level {
			out[i].level = l
		}
	}
	s.mu.Lock()
	x.raise(levels)
	s.mu.Unlock()
	return out, nil
}

// announcedLevels reads the protocol level announced by each viewer below
// nodeproto.MaxLevel, where it is higher; nothing is read when all are at
// the top (the common case). A few are looked up by id; many (a Domain of
// level-1 agents) through one pass over the Domain's agents.
func announcedLevels(ctx context.Context, q store.Querier, domainID string, vs []viewer) (map[string]int, error) {
	var low []any
	for _, v := range vs {
		if v.level < nodeproto.MaxLevel {
			low = append(low, v.id)
		}
	}
	out := map[string]int{}
	if len(low) > levelLookups {
		return out, scanLevels(ctx, q, out, `SELECT a.node_id, a.protocol_level FROM nodes n JOIN node_agents a ON a.node_id = n.id
			WHERE n.domain_id = $1 AND n.revoked_at IS NULL AND a.protocol_level > n.registered_level`, domainID)
	}
	for part := range slices.Chunk(low, levelLookups) {
		marks := make([]string, len(part))
		for i := range part {
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		if err := scanLevels(ctx, q, out, `SELECT node_id, protocol_level FROM node_agents
			WHERE node_id IN (`+strings.Join(marks, ",")+`)`, part...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// levelLookups is how many nodes announcedLevels looks up by id at most.
const levelLookups = 200

// scanLevels adds the (node id, level) rows of query to out.
func scanLevels(ctx context.Context, q store.Querier, out map[string]int, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("mesh: levels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l int
		if err := rows.Scan(&id, &l); err != nil {
			return fmt.Errorf("mesh: levels: %w", err)
		}
		out[id] = l
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("mesh: levels: %w", err)
	}
	return nil
}

// readMembers reads the live nodes of domainID with a mesh address, sorted
// by id (in Go's order, which the index searches by), through the
// (domain_id, id) index of live nodes.
func readMembers(ctx context.Context, q store.Querier, domainID string) ([]viewer, error) {
	rows, err := q.QueryContext(ctx, `SELECT n.id, n.registered_level, COALESCE(a.protocol_level, 0), n.psk_epoch
		FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id
		WHERE n.domain_id = $1 AND n.revoked_at IS NULL AND n.mesh_ip IS NOT NULL ORDER BY n.id`, domainID)
	if err != nil {
		return nil, fmt.Errorf("mesh: members: %w", err)
	}
	defer rows.Close()
	var out []viewer
	for rows.Next() {
		var v viewer
		var announced int
		if err := rows.Scan(&v.id, &v.level, &announced, &v.epoch); err != nil {
			return nil, fmt.Errorf("mesh: members: %w", err)
		}
		v.level = max(v.level, announced)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mesh: members: %w", err)
	}
	cmp := func(a, b viewer) int { return strings.Compare(a.id, b.id) }
	if !slices.IsSortedFunc(out, cmp) {
		slices.SortFunc(out, cmp)
	}
	return out, nil
}

// Forget drops the member indexes (tests; nothing needs it for
// correctness, a stale index is rebuilt on its next use).
func (s *Service) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.indexes)
}
