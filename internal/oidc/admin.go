package oidc

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

type bindingIDInput struct {
	ID string `path:"id" doc:"IdP binding id."`
}

type listBindingsInput struct {
	DomainID string `query:"domain_id" doc:"Only this Domain's bindings; empty lists every binding the caller may manage."`
	page.ArrayParams
}

type createBindingInput struct{ Body apiv1.CreateIdPBinding }

type bindingOutput struct {
	Location string `header:"Location"`
	Body     apiv1.IdPBinding
}

// bindingsOutput is a bare JSON array, as in the contract; the next page is
// named by headers.
type bindingsOutput struct {
	page.ArrayHeaders
	Body []apiv1.IdPBinding `nullable:"false"`
}

// Register adds the IdP binding admin operations and the sign-in flow.
func (s *Service) Register(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/admin/idp", "listIdPBindings", "idp.list", route.Operator,
		"List IdP bindings (rows filtered by domain#manage)", "IdP bindings"), s.listBindings)
	op := route.Op(http.MethodPost, "/v1/admin/idp", "createIdPBinding", "idp.create", route.Operator,
		"Create an OIDC binding for a Domain (or, without domain_id, platform-wide)", "IdP bindings")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.createBinding)
	huma.Register(api, route.Op(http.MethodGet, "/v1/admin/idp/{id}", "getIdPBinding", "idp.read", route.Operator,
		"Read an IdP binding", "IdP bindings"), s.getBinding)
	op = route.Op(http.MethodDelete, "/v1/admin/idp/{id}", "deleteIdPBinding", "idp.delete", route.Operator,
		"Delete an IdP binding; its sessions end", "IdP bindings")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.deleteBinding)
	s.registerManage(api)
	s.registerSignIn(api)
}

// codeBindingNotFound is the contract's code (kebab case) for a missing
// binding on GET and DELETE /v1/admin/idp/{id}.
const codeBindingNotFound = "binding-not-found"

// scopeObject is the ReBAC object whose manage permission governs a scope.
func scopeObject(domainID string) string {
	if domainID == "" {
		return "platform:platform"
	}
	return "domain:" + domainID
}

func (s *Service) createBinding(ctx context.Context, in *createBindingInput) (*bindingOutput, error) {
	if in.Body.DomainID != "" {
		id, err := pathid.Parse("domain", in.Body.DomainID)
		if err != nil {
			return nil, err
		}
		in.Body.DomainID = id
	}
	ar := audit.RequestFrom(ctx)
	ar.Target(chainOf(in.Body.DomainID), "idp_binding", "")
	if err := s.authz.Check(ctx, "manage", scopeObject(in.Body.DomainID)); err != nil {
		return nil, err
	}
	b, err := validateCreate(in.Body)
	if err != nil {
		return nil, err
	}
	b.ID = uuid.Must(uuid.NewV7()).String()
	ar.Target(chainOf(b.DomainID), "idp_binding", b.ID)
	now := s.now().UTC().Truncate(time.Microsecond)
	b.CreatedAt, b.UpdatedAt = now, now
	sealed := ""
	if in.Body.ClientSecret != "" {
		sealed = base64.StdEncoding.EncodeToString(s.keys.Seal(secretName(b.ID), []byte(in.Body.ClientSecret)))
		b.ClientSecretRef = "keyring:idp/" + b.ID
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if b.DomainID != "" {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE id = $1`, b.DomainID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return problem.NotFound("domain_not_found", "No such Domain.")
			} else if err != nil {
				return err
			}
		}
		if err := s.checkConflicts(ctx, tx, b); err != nil {
			return err
		}
		if err := insertBinding(ctx, tx, b, sealed); err != nil {
			if store.IsUniqueViolation(err) {
				return problem.Conflict("binding_conflict", "A conflicting IdP binding was created concurrently.")
			}
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &bindingOutput{Location: "/v1/admin/idp/" + b.ID, Body: b.API()}, nil
}

// checkConflicts gives the uniqueness rules of api.md §3.2 their codes.
func (s *Service) checkConflicts(ctx context.Context, tx *sql.Tx, b *Binding) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_bindings WHERE scope_key = $1 AND status = 'active' AND issuer = $2`,
		b.DomainID, b.Issuer).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return problem.Conflict("issuer_conflict", "An active binding for this issuer already exists in this scope.")
	}
	if b.Primary {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_bindings WHERE scope_key = $1 AND status = 'active' AND is_primary`,
			b.DomainID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return problem.Conflict("primary_conflict", "This scope already has an active primary binding.")
		}
	}
	if b.Alias != "" {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_bindings WHERE scope_key = $1 AND status = 'active' AND alias = $2`,
			b.DomainID, b.Alias).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return problem.Conflict("alias_conflict", "An active binding in this scope already uses this alias.")
		}
	}
	return nil
}

func insertBinding(ctx context.Context, tx *sql.Tx, b *Binding, sealed string) error {
	js := func(v any) string { raw, _ := json.Marshal(v); return string(raw) }
	var domain, alias any
	if b.DomainID != "" {
		domain = b.DomainID
	}
	if b.Alias != "" {
		alias = b.Alias
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO idp_bindings (id, domain_id, scope_key, issuer, discovery_url, client_id,
		client_secret_ref, client_secret_sealed, scopes, claim_mappings, required_acr, required_amr, jit_policy, status,
		alias, is_primary, spiffe_bundle_url, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)`,
		b.ID, domain, b.DomainID, b.Issuer, b.DiscoveryURL, b.ClientID, b.ClientSecretRef, sealed,
		js(b.Scopes), js(b.ClaimMappings), js(b.RequiredACR), js(b.RequiredAMR), b.JITPolicy, b.Status,
		alias, b.Primary, b.SpiffeBundleURL, store.Micros(b.CreatedAt))
	return err
}

// authorizeBinding checks manage on the binding's scope before anything
// about the binding is revealed: for an id that does not exist, the caller
// needs platform#manage to learn so (404); everyone else gets 403.
func (s *Service) authorizeBinding(ctx context.Context, rawID string) (*Binding, error) {
	id, err := pathid.Parse("idp_binding", rawID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "idp_binding", id)
	b, err := s.binding(ctx, s.db, id)
	if errors.Is(err, errBindingNotFound) {
		if err := s.authz.Check(ctx, "manage", scopeObject("")); err != nil {
			return nil, err
		}
		return nil, problem.NotFound(codeBindingNotFound, "No such IdP binding.")
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	audit.RequestFrom(ctx).Target(chainOf(b.DomainID), "idp_binding", id)
	if err := s.authz.Check(ctx, "manage", scopeObject(b.DomainID)); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Service) getBinding(ctx context.Context, in *bindingIDInput) (*bindingOutput, error) {
	b, err := s.authorizeBinding(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &bindingOutput{Body: b.API()}, nil
}

func (s *Service) deleteBinding(ctx context.Context, in *bindingIDInput) (*struct{}, error) {
	b, err := s.authorizeBinding(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE idp_binding_id = $1 AND revoked_at IS NULL`,
			b.ID, store.Micros(s.now())); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_flows WHERE idp_binding_id = $1`, b.ID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM idp_bindings WHERE id = $1`, b.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.NotFound(codeBindingNotFound, "No such IdP binding.")
		}
		return s.audit.Commit(ctx, tx)
	})
	s.mu.Lock()
	delete(s.providers, b.ID)
	s.mu.Unlock()
	return nil, problem.From(err)
}

func (s *Service) listBindings(ctx context.Context, in *listBindingsInput) (*bindingsOutput, error) {
	scope := "idp.list"
	filter, args := "", []any{}
	if in.DomainID != "" {
		id, err := pathid.Parse("domain", in.DomainID)
		if err != nil {
			return nil, err
		}
		audit.RequestFrom(ctx).Target(chainOf(id), "domain", id)
		if err := s.authz.Check(ctx, "manage", scopeObject(id)); err != nil {
			return nil, err
		}
		scope += ":" + id
		filter, args = ` AND scope_key = $3`, append(args, id)
	}
	var after string
	limit, err := s.pages.Start(ctx, in.Params(), scope, &after)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+bindingColumns+` FROM idp_bindings WHERE id > $1`+filter+
		` ORDER BY id LIMIT $2`, append([]any{after, limit + 1}, args...)...)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	var found []*Binding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		found = append(found, b)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	out := &bindingsOutput{Body: []apiv1.IdPBinding{}}
	if len(found) > limit {
		found = found[:limit]
		next, err := s.pages.Next(ctx, scope, found[limit-1].ID)
		if err != nil {
			return nil, err
		}
		q := url.Values{}
		if in.DomainID != "" {
			q.Set("domain_id", in.DomainID)
		}
		out.SetNext("/v1/admin/idp", q, next, limit)
	}
	objs := make([]string, len(found))
	for i, b := range found {
		objs[i] = scopeObject(b.DomainID)
	}
	ok, err := s.authz.Visible(ctx, "manage", objs)
	if err != nil {
		return nil, err
	}
	for i, b := range found {
		if ok[i] {
			out.Body = append(out.Body, b.API())
		}
	}
	return out, nil
}
