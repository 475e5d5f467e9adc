package nat

import (
	"context"
	"database/sql"

	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Keepalive is the persistent keepalive (s) of a pair with a side behind
// NAT or relayed (node-protocol §12.1).
const Keepalive = 25

// Paths implements mesh.PathSource: each subject's Path as viewer sees it.
func (s *Service) Paths(ctx context.Context, tx *sql.Tx, viewer string, subjects []string) (map[string]mesh.Path, error) {
	eps, err := loadEndpoints(ctx, tx, append([]string{viewer}, subjects...))
	if err != nil {
		return nil, err
	}
	sessions, err := sessionsOf(ctx, tx, viewer)
	if err != nil {
		return nil, err
	}
	levels, err := loadLevels(ctx, tx, []string{viewer})
	if err != nil {
		return nil, err
	}
	out := make(map[string]mesh.Path, len(subjects))
	for _, sub := range subjects {
		out[sub] = pathOf(viewer, levels[viewer], eps[viewer], eps[sub], sessions[sub])
	}
	return out, nil
}

// PathsTo implements mesh.ViewerPaths: subject's Path as each viewer sees
// it, with a constant number of queries.
func (s *Service) PathsTo(ctx context.Context, tx *sql.Tx, subject string, viewers []string) (map[string]mesh.Path, error) {
	eps, err := loadEndpoints(ctx, tx, append([]string{subject}, viewers...))
	if err != nil {
		return nil, err
	}
	sessions, err := sessionsOf(ctx, tx, subject)
	if err != nil {
		return nil, err
	}
	var relayed []string
	for _, v := range viewers {
		if sessions[v] != nil {
			relayed = append(relayed, v)
		}
	}
	levels, err := loadLevels(ctx, tx, relayed)
	if err != nil {
		return nil, err
	}
	out := make(map[string]mesh.Path, len(viewers))
	for _, v := range viewers {
		out[v] = pathOf(v, levels[v], eps[v], eps[subject], sessions[v])
	}
	return out, nil
}

// pathOf is subject's Path as viewer (at level) sees it: the subject's
// live endpoint and candidates, keepalive when either side is behind NAT,
// and the pair's relay: level 2 gets the session with its own token and
// the relay as fallback; level 1 gets the relay as the endpoint (NT2).
func pathOf(viewer string, level int, v, sub *endpointRow, sess *session) mesh.Path {
	var p mesh.Path
	if sub.live() {
		p.Endpoint = sub.endpoint
		if len(sub.candidates) > 0 {
			p.Candidates = append([]string(nil), sub.candidates...)
		}
	}
	if v.behindNAT() || sub.behindNAT() {
		p.Keepalive = Keepalive
	}
	if sess == nil {
		return p
	}
	p.Keepalive = Keepalive
	p.FallbackEndpoint = sess.relayEndpoint
	if level >= nodeproto.Level2 {
		p.Relay = sess.peerRelay(viewer)
	} else {
		p.Endpoint = sess.relayEndpoint
	}
	return p
}

var (
	_ mesh.PathSource  = (*Service)(nil)
	_ mesh.ViewerPaths = (*Service)(nil)
)
