package enroll

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// KindGateway is the node kind of the control plane's session gateway
// (docs/design/0008-access.md). Its bootstrap tokens are never issued
// through the API: the session plane mints them for itself.
const KindGateway = "gateway"

// gatewayTokenTTL bounds the life of a gateway's bootstrap token.
const gatewayTokenTTL = 5 * 60 * 1e6 // 5 minutes in microseconds

// gatewayStale is how long a gateway may go without a heartbeat (they
// send one every 10 s) before another start takes it for dead.
const gatewayStale = 2 * time.Minute

// IssueGatewayToken mints a single-use bootstrap token of kind gateway for
// the Project and decommissions the Project's dead gateways: those of an
// earlier start of a control plane (their keys died with it), recognised
// by no heartbeat for gatewayStale. Other replicas' live gateways stay.
// The issuance is audited in the Domain's chain.
func (s *Service) IssueGatewayToken(ctx context.Context, projectID string) (string, error) {
	domainID, _, err := projectDomain(ctx, s.db, projectID)
	if err != nil {
		return "", err
	}
	stale := store.Micros(s.stamp().Add(-gatewayStale))
	old, err := store.Strings(ctx, s.db, `SELECT n.id FROM nodes n LEFT JOIN node_agents a ON a.node_id = n.id
		WHERE n.project_id = $1 AND n.kind = $2 AND n.revoked_at IS NULL AND n.created_at < $3
		AND COALESCE(a.last_heartbeat_at, 0) < $3`, projectID, KindGateway, stale)
	if err != nil {
		return "", err
	}
	for _, id := range old {
		if err := s.decommission(ctx, id); err != nil {
			return "", err
		}
	}
	plain, lookup := newToken("gw", projectID, KindGateway)
	hash, err := s.hashToken(ctx, plain)
	if err != nil {
		return "", err
	}
	now := store.Micros(s.stamp())
	id := uuid.Must(uuid.NewV7()).String()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO bootstrap_tokens (id, lookup, project_id, domain_id, kind,
			env_prefix, secret_hash, labels, max_uses, uses, issued_by_user_id, issued_at, expires_at)
			VALUES ($1,$2,$3,$4,$5,'gw',$6,'{}',1,0,'system',$7,$8)`,
			id, lookup, projectID, domainID, KindGateway, hash, now, now+gatewayTokenTTL); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Entry{ChainID: domainID, Action: "node.gateway.token", Outcome: audit.Succeeded,
			IdentityRef: "system", ObjectType: "bootstrap_token", ObjectID: id})
		return err
	})
	return plain, err
}
