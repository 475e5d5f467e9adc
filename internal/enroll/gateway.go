package enroll

import (
	"context"
	"database/sql"

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

// IssueGatewayToken mints a single-use bootstrap token of kind gateway for
// the Project and decommissions the Project's earlier gateways (a control
// plane enrols a fresh gateway on every start; their keys died with it).
// The issuance is audited in the Domain's chain.
func (s *Service) IssueGatewayToken(ctx context.Context, projectID string) (string, error) {
	domainID, _, err := projectDomain(ctx, s.db, projectID)
	if err != nil {
		return "", err
	}
	old, err := store.Strings(ctx, s.db, `SELECT id FROM nodes WHERE project_id = $1 AND kind = $2 AND revoked_at IS NULL`,
		projectID, KindGateway)
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
