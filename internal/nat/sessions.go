package nat

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/relaywire"
	"github.com/plexsphere/plexsphere/internal/store"
)

// session is one relay session of a pair (nodeA < nodeB).
type session struct {
	id, domainID, resourceID, relayNode, relayEndpoint string
	nodeA, nodeB, endpointA, endpointB, tokenA, tokenB string
	createdAt, expiresAt                               time.Time
}

// other is the side of the pair that is not id.
func (s *session) other(id string) string {
	if s.nodeA == id {
		return s.nodeB
	}
	return s.nodeA
}

// tokenOf is the token of side id.
func (s *session) tokenOf(id string) string {
	if s.nodeA == id {
		return s.tokenA
	}
	return s.tokenB
}

// wire is the session as the bridge receives it: the exact endpoints for
// level-1 relays and both tokens for ours.
func (s *session) wire() nodeproto.RelaySession {
	return nodeproto.RelaySession{SessionID: s.id, PeerAID: s.nodeA, PeerAEndpoint: s.endpointA, PeerBID: s.nodeB,
		PeerBEndpoint: s.endpointB, ExpiresAt: s.expiresAt.UTC(), PeerAToken: s.tokenA, PeerBToken: s.tokenB}
}

// peerRelay is the session as side viewer sees it.
func (s *session) peerRelay(viewer string) *nodeproto.PeerRelay {
	return &nodeproto.PeerRelay{SessionID: s.id, Endpoint: s.relayEndpoint, Token: s.tokenOf(viewer),
		RelayNodeID: s.relayNode}
}

const sessionColumns = `id, domain_id, resource_id, relay_node_id, relay_endpoint, node_a, node_b, endpoint_a,
	endpoint_b, token_a, token_b, created_at, expires_at`

func scanSession(row interface{ Scan(...any) error }) (session, error) {
	var (
		s                session
		created, expires int64
	)
	err := row.Scan(&s.id, &s.domainID, &s.resourceID, &s.relayNode, &s.relayEndpoint, &s.nodeA, &s.nodeB,
		&s.endpointA, &s.endpointB, &s.tokenA, &s.tokenB, &created, &expires)
	s.createdAt, s.expiresAt = store.Time(created), store.Time(expires)
	return s, err
}

// querySessions runs a query selecting sessionColumns.
func querySessions(ctx context.Context, q store.Querier, where string, args ...any) ([]session, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+sessionColumns+` FROM relay_sessions `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("nat: relay sessions: %w", err)
	}
	defer rows.Close()
	var out []session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("nat: relay sessions: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// sessionsOf lists the sessions node id is a side of, keyed by the other
// side.
func sessionsOf(ctx context.Context, q store.Querier, id string) (map[string]*session, error) {
	list, err := querySessions(ctx, q, `WHERE node_a = $1 OR node_b = $1`, id)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*session, len(list))
	for i := range list {
		out[list[i].other(id)] = &list[i]
	}
	return out, nil
}

// newToken is a fresh relay token (base64url of 32 random bytes).
func newToken() string {
	var t [relaywire.TokenLen]byte
	_, _ = rand.Read(t[:])
	return relaywire.FormatToken(t)
}

// insertSession stores a new session for the pair through relay r.
func (s *Service) insertSession(ctx context.Context, q store.Querier, a, b *endpointRow, r relayNode) (session, error) {
	if a.nodeID > b.nodeID {
		a, b = b, a
	}
	now := s.now()
	sess := session{id: uuid.Must(uuid.NewV7()).String(), domainID: a.domainID, resourceID: r.resourceID,
		relayNode: r.nodeID, relayEndpoint: r.endpoint, nodeA: a.nodeID, nodeB: b.nodeID, endpointA: a.endpoint,
		endpointB: b.endpoint, tokenA: newToken(), tokenB: newToken(), createdAt: now,
		expiresAt: now.Add(s.cfg.SessionTTL)}
	_, err := q.ExecContext(ctx, `INSERT INTO relay_sessions (`+sessionColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`, sess.id, sess.domainID, sess.resourceID, sess.relayNode,
		sess.relayEndpoint, sess.nodeA, sess.nodeB, sess.endpointA, sess.endpointB, sess.tokenA, sess.tokenB,
		store.Micros(sess.createdAt), store.Micros(sess.expiresAt))
	if err != nil {
		return sess, fmt.Errorf("nat: insert relay session: %w", err)
	}
	return sess, nil
}
