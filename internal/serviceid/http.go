package serviceid

import (
	"context"
	"database/sql"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

const basePath = "/v1/domains/{id}/service-identities"

type oneInput struct {
	ID                string `path:"id" doc:"Domain id."`
	ServiceIdentityID string `path:"service_identity_id" doc:"Service identity id."`
}

type createInput struct {
	ID   string `path:"id" doc:"Domain id."`
	Body apiv1.CreateServiceIdentity
}

type listInput struct {
	ID string `path:"id" doc:"Domain id."`
	page.Params
}

type patchInput struct {
	ID                string `path:"id" doc:"Domain id."`
	ServiceIdentityID string `path:"service_identity_id" doc:"Service identity id."`
	Body              apiv1.PatchServiceIdentity
}

type oneOutput struct {
	Location string `header:"Location"`
	Body     apiv1.ServiceIdentity
}

type listOutput struct {
	Body apiv1.List[apiv1.ServiceIdentity]
}

// Register adds the service-identity operations and the token endpoint.
func (s *Service) Register(api huma.API) {
	tags := "Service identities"
	op := route.Op(http.MethodPost, basePath, "createServiceIdentity", "service_identity.create", route.Operator,
		"Create a service identity", tags)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.create)
	huma.Register(api, route.Op(http.MethodGet, basePath, "listServiceIdentities", "service_identity.list", route.Operator,
		"List a Domain's service identities", tags), s.list)
	one := basePath + "/{service_identity_id}"
	huma.Register(api, route.Op(http.MethodGet, one, "getServiceIdentity", "service_identity.read", route.Operator,
		"Read a service identity", tags), s.get)
	huma.Register(api, route.Op(http.MethodPatch, one, "patchServiceIdentity", "service_identity.update", route.Operator,
		"Rename or disable a service identity; disabling revokes its tokens", tags), s.patch)
	op = route.Op(http.MethodDelete, one, "deleteServiceIdentity", "service_identity.delete", route.Operator,
		"Delete a service identity; revokes its tokens and tuples", tags)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.delete)
	s.registerToken(api)
}

func (s *Service) create(ctx context.Context, in *createInput) (*oneOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	b := in.Body
	bindingID, err := pathid.Parse("idp_binding", b.IdPBindingID)
	if err != nil {
		return nil, err
	}
	ref, err := s.bindings.LookupBinding(ctx, bindingID)
	if err != nil {
		return nil, problem.From(err)
	}
	switch {
	case ref.DomainID != "" && ref.DomainID != domainID, !ref.Active:
		return nil, problem.NotFound("binding_not_found", "No such active IdP binding in this Domain.")
	case b.FederationKind == KindJWTBearer && b.Subject == "":
		return nil, problem.BadRequest("invalid_body", "A jwt_bearer identity needs subject (the expected SPIFFE ID).")
	case b.FederationKind == KindJWTBearer && ref.SpiffeBundleURL == "":
		return nil, problem.BadRequest("spiffe_bundle_unconfigured", "A jwt_bearer identity needs an IdP binding with spiffe_bundle_url.")
	}
	now := s.now()
	si := apiv1.ServiceIdentity{ID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID, DisplayName: b.DisplayName,
		IdPBindingID: bindingID, FederationKind: b.FederationKind, ClientID: b.ClientID, Subject: b.Subject,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	audit.RequestFrom(ctx).Target(domainID, "service_identity", si.ID)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// client_id is unique per Domain, so that domain_id and client_id
		// name one identity at the token endpoint (issue 7 row 1).
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM service_identities WHERE domain_id = $1 AND client_id = $2`,
			domainID, si.ClientID).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return clientIDConflict()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identities (id, kind, domain_id, display_name, created_at, updated_at)
			VALUES ($1, 'service_identity', $2, $3, $4, $4)`, si.ID, domainID, si.DisplayName, store.Micros(now)); err != nil {
			return err
		}
		var subject any
		if si.Subject != "" {
			subject = si.Subject
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_identities (id, domain_id, idp_binding_id, federation_kind,
			client_id, subject, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, si.ID, domainID,
			bindingID, si.FederationKind, si.ClientID, subject, store.Micros(now)); err != nil {
			if store.IsUniqueViolation(err) {
				return clientIDConflict()
			}
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &oneOutput{Location: "/v1/domains/" + domainID + "/service-identities/" + si.ID, Body: si}, nil
}

func clientIDConflict() *problem.Problem {
	return problem.Conflict("client_id_conflict", "Another service identity of this Domain has this client_id.")
}

const columns = `id, domain_id, idp_binding_id, federation_kind, client_id, COALESCE(subject, ''), disabled_at,
	created_at, updated_at`

func scan(row interface{ Scan(...any) error }) (apiv1.ServiceIdentity, error) {
	var (
		si               apiv1.ServiceIdentity
		disabled         *int64
		created, updated int64
	)
	err := row.Scan(&si.ID, &si.DomainID, &si.IdPBindingID, &si.FederationKind, &si.ClientID, &si.Subject, &disabled,
		&created, &updated)
	si.DisabledAt, si.CreatedAt, si.UpdatedAt = store.NullTime(disabled), store.Time(created), store.Time(updated)
	return si, err
}

// load reads one identity of a Domain with its display name.
func (s *Service) load(ctx context.Context, q store.Querier, domainID, id string) (apiv1.ServiceIdentity, error) {
	si, err := scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM service_identities WHERE id = $1 AND domain_id = $2`,
		id, domainID))
	if errors.Is(err, sql.ErrNoRows) {
		return si, problem.NotFound("service_identity_not_found", "No such service identity in this Domain.")
	}
	if err != nil {
		return si, err
	}
	err = q.QueryRowContext(ctx, `SELECT display_name FROM identities WHERE id = $1`, id).Scan(&si.DisplayName)
	return si, err
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "read")
	if err != nil {
		return nil, err
	}
	scope := "service_identities.list:" + domainID
	var after string
	limit, err := s.pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.domain_id, s.idp_binding_id, s.federation_kind, s.client_id,
			COALESCE(s.subject, ''), s.disabled_at, s.created_at, s.updated_at, i.display_name
		FROM service_identities s JOIN identities i ON i.id = s.id
		WHERE s.domain_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3`, domainID, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &listOutput{Body: apiv1.List[apiv1.ServiceIdentity]{Items: []apiv1.ServiceIdentity{}}}
	for rows.Next() {
		var name string
		si, err := scan(scanWith{rows, &name})
		if err != nil {
			return nil, problem.Internal(err)
		}
		si.DisplayName = name
		out.Body.Items = append(out.Body.Items, si)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		if out.Body.NextCursor, err = s.pages.Next(ctx, scope, out.Body.Items[limit-1].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanWith appends extra destinations to a row scan.
type scanWith struct {
	rows  *sql.Rows
	extra *string
}

func (w scanWith) Scan(dst ...any) error { return w.rows.Scan(append(dst, w.extra)...) }

func (s *Service) get(ctx context.Context, in *oneInput) (*oneOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "read")
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("service_identity", in.ServiceIdentityID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(domainID, "service_identity", id)
	si, err := s.load(ctx, s.db, domainID, id)
	if err != nil {
		return nil, problem.From(err)
	}
	return &oneOutput{Body: si}, nil
}

func (s *Service) patch(ctx context.Context, in *patchInput) (*oneOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("service_identity", in.ServiceIdentityID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(domainID, "service_identity", id)
	if in.Body.DisplayName == nil && in.Body.Disabled == nil {
		return nil, problem.BadRequest("empty_patch", "The patch changes nothing.")
	}
	var si apiv1.ServiceIdentity
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.load(ctx, tx, domainID, id); err != nil {
			return err
		}
		now := store.Micros(s.now())
		if n := in.Body.DisplayName; n != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE identities SET display_name = $2, updated_at = $3 WHERE id = $1`,
				id, *n, now); err != nil {
				return err
			}
		}
		if d := in.Body.Disabled; d != nil {
			var stamp any
			if *d {
				stamp = now
				if err := s.revokeAll(ctx, tx, id); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE service_identities SET disabled_at = $2 WHERE id = $1`, id, stamp); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE service_identities SET updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		var err error
		if si, err = s.load(ctx, tx, domainID, id); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &oneOutput{Body: si}, nil
}

// revokeAll revokes every credential of an identity: plexsphere's own
// tokens and its psk_ API tokens.
func (s *Service) revokeAll(ctx context.Context, tx *sql.Tx, id string) error {
	if err := s.tokens.RevokeIdentity(ctx, tx, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE identity_id = $1 AND revoked_at IS NULL`,
		id, store.Micros(s.now()))
	return err
}

func (s *Service) delete(ctx context.Context, in *oneInput) (*struct{}, error) {
	domainID, err := s.domainGate(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("service_identity", in.ServiceIdentityID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(domainID, "service_identity", id)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.load(ctx, tx, domainID, id); err != nil {
			return err
		}
		if err := s.removeTuples(ctx, tx, id); err != nil {
			return err
		}
		// The identity goes with its credentials, so that it no longer
		// counts as a child of its Domain; audit entries keep its id.
		for _, q := range []string{
			`DELETE FROM oauth_tokens WHERE identity_id = $1`,
			`DELETE FROM api_tokens WHERE identity_id = $1`,
			`DELETE FROM principal_group_members WHERE principal_kind = 'service_identity' AND principal_id = $1`,
			`DELETE FROM service_identities WHERE id = $1`,
			`DELETE FROM identities WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(err)
}

// removeTuples deletes every tuple whose subject is the identity, through
// the tuple writer (the only writer of relation tuples).
func (s *Service) removeTuples(ctx context.Context, tx *sql.Tx, id string) error {
	rows, err := tx.QueryContext(ctx, `SELECT resource_type, resource_id, relation FROM relation_tuples
		WHERE subject_type = $1 AND subject_id = $2 AND subject_relation = ''`, authz.TypeServiceIdentity, id)
	if err != nil {
		return err
	}
	var remove []authz.Tuple
	subject := authz.ObjectRef{Type: authz.TypeServiceIdentity, ID: id}.Subject()
	for rows.Next() {
		var t authz.Tuple
		if err := rows.Scan(&t.Resource.Type, &t.Resource.ID, &t.Relation); err != nil {
			rows.Close()
			return err
		}
		t.Subject = subject
		remove = append(remove, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(remove) == 0 {
		return err
	}
	return s.tuples.Write(ctx, tx, nil, remove)
}

// domainGate is pathid.Domain with the service's store and guard.
func (s *Service) domainGate(ctx context.Context, raw, permission string) (string, error) {
	return pathid.Domain(ctx, s.db, s.authz, raw, permission)
}
