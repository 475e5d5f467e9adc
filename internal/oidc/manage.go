package oidc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Issue 16 item 2: platform bindings, binding patch and enable/disable, and
// the public sign-in chooser.

type listPlatformInput struct{ page.ArrayParams }

type createPlatformInput struct {
	Body apiv1.CreatePlatformIdPBinding
}

type patchBindingInput struct {
	ID   string `path:"id" doc:"IdP binding id."`
	Body apiv1.PatchIdPBinding
}

type bindingStatusInput struct {
	ID   string `path:"id" doc:"IdP binding id."`
	Body apiv1.IdPBindingStatus
}

type chooserInput struct {
	DomainID string `query:"domain_id" required:"true" maxLength:"64" doc:"The Domain being signed in to."`
}

type chooserOutput struct {
	CacheControl string                   `header:"Cache-Control"`
	Body         []apiv1.DomainIdPBinding `nullable:"false"`
}

// maxChooser bounds the public chooser list.
const maxChooser = 50

func (s *Service) registerManage(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/admin/platform-idp", "listPlatformIdPBindings", "idp.list_platform",
		route.Operator, "List platform-scoped (shared) IdP bindings (platform#manage)", "IdP bindings"), s.listPlatform)
	op := route.Op(http.MethodPost, "/v1/admin/platform-idp", "createPlatformIdPBinding", "idp.create_platform", route.Operator,
		"Create a platform-scoped IdP binding: sign-in to any Domain without bindings of its own", "IdP bindings")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.createPlatform)
	huma.Register(api, route.Op(http.MethodPatch, "/v1/admin/idp/{id}", "patchIdPBinding", "idp.update", route.Operator,
		"Change an IdP binding's discovery URL, claim mappings, ACR/AMR, JIT policy, alias or primary flag", "IdP bindings"), s.patchBinding)
	huma.Register(api, route.Op(http.MethodPatch, "/v1/admin/idp/{id}/status", "setIdPBindingStatus", "idp.status", route.Operator,
		"Activate or deactivate an IdP binding; deactivation ends its browser sessions and refuses sign-in through it", "IdP bindings"),
		s.setStatus)
	huma.Register(api, route.Op(http.MethodGet, "/v1/auth/idp-bindings", "listSignInBindings", "auth.idp_bindings", route.Public,
		"The IdP bindings a Domain signs in with (its own active ones, else the platform's), display-safe", "Auth"), s.chooser)
}

func (s *Service) listPlatform(ctx context.Context, in *listPlatformInput) (*bindingsOutput, error) {
	audit.RequestFrom(ctx).Target(audit.PlatformChain, "idp_binding", "")
	if err := s.authz.Check(ctx, "manage", scopeObject("")); err != nil {
		return nil, err
	}
	const scope = "idp.list_platform"
	var after string
	limit, err := s.pages.Start(ctx, in.Params(), scope, &after)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+bindingColumns+` FROM idp_bindings WHERE scope_key = '' AND id > $1
		ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &bindingsOutput{Body: []apiv1.IdPBinding{}}
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body = append(out.Body, b.API())
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body) > limit {
		out.Body = out.Body[:limit]
		next, err := s.pages.Next(ctx, scope, out.Body[limit-1].ID)
		if err != nil {
			return nil, err
		}
		out.SetNext("/v1/admin/platform-idp", nil, next, limit)
	}
	return out, nil
}

func (s *Service) createPlatform(ctx context.Context, in *createPlatformInput) (*bindingOutput, error) {
	b := in.Body
	return s.createBinding(ctx, &createBindingInput{Body: apiv1.CreateIdPBinding{
		Issuer: b.Issuer, ClientID: b.ClientID, ClientSecretRef: b.ClientSecretRef, ClientSecret: b.ClientSecret,
		DiscoveryURL: b.DiscoveryURL, Scopes: b.Scopes, ClaimMappings: b.ClaimMappings, RequiredACR: b.RequiredACR,
		RequiredAMR: b.RequiredAMR, JITPolicy: b.JITPolicy, Alias: b.Alias, Primary: b.Primary, SpiffeBundleURL: b.SpiffeBundleURL,
	}})
}

// Contract codes (kebab case) of a patch or activation that would break a
// scope's uniqueness rules among active bindings.
const (
	codeAliasConflict   = "alias-conflict"
	codePrimaryConflict = "primary-conflict"
	codeIssuerConflict  = "issuer-conflict"
)

// conflictsExcept checks the uniqueness rules among the scope's other active
// bindings for b (which is, or is about to be, active).
func conflictsExcept(ctx context.Context, tx *sql.Tx, b *Binding) error {
	count := func(cond string, args ...any) (int, error) {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_bindings WHERE scope_key = $1 AND status = 'active'
			AND id <> $2 AND `+cond, append([]any{b.DomainID, b.ID}, args...)...).Scan(&n)
		return n, err
	}
	if n, err := count(`issuer = $3`, b.Issuer); err != nil || n > 0 {
		if err != nil {
			return err
		}
		return problem.Conflict(codeIssuerConflict, "Another active binding for this issuer exists in this scope.")
	}
	if b.Primary {
		if n, err := count(`is_primary`); err != nil || n > 0 {
			if err != nil {
				return err
			}
			return problem.Conflict(codePrimaryConflict, "This scope already has an active primary binding; demote it first.")
		}
	}
	if b.Alias != "" {
		if n, err := count(`alias = $3`, b.Alias); err != nil || n > 0 {
			if err != nil {
				return err
			}
			return problem.Conflict(codeAliasConflict, "Another active binding in this scope uses this alias.")
		}
	}
	return nil
}

// applyPatch validates p and applies it to b.
func applyPatch(b *Binding, p apiv1.PatchIdPBinding) error {
	if p.DiscoveryURL != nil {
		if err := checkURL(*p.DiscoveryURL); err != nil {
			return problem.BadRequest("invalid_discovery_url", "discovery_url: "+err.Error())
		}
		b.DiscoveryURL = *p.DiscoveryURL
	}
	if p.ClaimMappings != nil {
		m := map[string]string{}
		for k, v := range *p.ClaimMappings {
			if _, ok := defaultClaims[k]; !ok || !claimNameRE.MatchString(v) {
				return problem.BadRequest("invalid_claim_mappings", "claim_mappings keys are groups, email and display_name; values are claim names.")
			}
			m[k] = v
		}
		b.ClaimMappings = m
	}
	for _, f := range []struct {
		in  *[]string
		dst *[]string
	}{{p.RequiredACR, &b.RequiredACR}, {p.RequiredAMR, &b.RequiredAMR}} {
		if f.in == nil {
			continue
		}
		out := []string{}
		for _, v := range *f.in {
			if !valueTokenRE.MatchString(v) {
				return problem.BadRequest("invalid_body", "required_acr and required_amr hold printable tokens without spaces.")
			}
			out = append(out, v)
		}
		*f.dst = out
	}
	if p.JITPolicy != nil {
		if *p.JITPolicy != "allow" && *p.JITPolicy != "deny" {
			return problem.BadRequest("invalid_jit_policy", "jit_policy must be allow or deny.")
		}
		b.JITPolicy = *p.JITPolicy
	}
	if p.Alias != nil {
		a := strings.ToLower(strings.TrimSpace(*p.Alias))
		if a != "" && !aliasRE.MatchString(a) {
			return problem.BadRequest("invalid_alias", "alias must be kebab-case.")
		}
		b.Alias = a
	}
	if p.Primary != nil {
		b.Primary = *p.Primary
	}
	return nil
}

func (s *Service) patchBinding(ctx context.Context, in *patchBindingInput) (*bindingOutput, error) {
	b, err := s.authorizeBinding(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanBinding(tx.QueryRowContext(ctx, `SELECT `+bindingColumns+` FROM idp_bindings WHERE id = $1`+s.db.ForUpdate(), b.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound(codeBindingNotFound, "No such IdP binding.")
		} else if err != nil {
			return err
		}
		if err := applyPatch(cur, in.Body); err != nil {
			return err
		}
		if cur.Status == "active" {
			if err := conflictsExcept(ctx, tx, cur); err != nil {
				return err
			}
		}
		cur.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		js := func(v any) string { raw, _ := json.Marshal(v); return string(raw) }
		var alias any
		if cur.Alias != "" {
			alias = cur.Alias
		}
		if _, err := tx.ExecContext(ctx, `UPDATE idp_bindings SET discovery_url = $2, claim_mappings = $3, required_acr = $4,
			required_amr = $5, jit_policy = $6, alias = $7, is_primary = $8, updated_at = $9 WHERE id = $1`,
			cur.ID, cur.DiscoveryURL, js(cur.ClaimMappings), js(cur.RequiredACR), js(cur.RequiredAMR), cur.JITPolicy,
			alias, cur.Primary, store.Micros(cur.UpdatedAt)); err != nil {
			if store.IsUniqueViolation(err) {
				return problem.Conflict("binding_conflict", "A conflicting IdP binding change happened concurrently.")
			}
			return err
		}
		b = cur
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	s.forget(b.ID)
	return &bindingOutput{Body: b.API()}, nil
}

// forget drops a binding's cached discovery document.
func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.providers, id)
	s.mu.Unlock()
}

func (s *Service) setStatus(ctx context.Context, in *bindingStatusInput) (*bindingOutput, error) {
	want := in.Body.Status
	switch want {
	case "active", "deactivated":
	case "inactive":
		want = "deactivated"
	default:
		return nil, problem.BadRequest("invalid_status", "status must be active or deactivated.")
	}
	b, err := s.authorizeBinding(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanBinding(tx.QueryRowContext(ctx, `SELECT `+bindingColumns+` FROM idp_bindings WHERE id = $1`+s.db.ForUpdate(), b.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return problem.NotFound(codeBindingNotFound, "No such IdP binding.")
		} else if err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		if want == "active" && cur.Status != "active" {
			if err := conflictsExcept(ctx, tx, cur); err != nil {
				return err
			}
		}
		if want != "active" {
			// Disabling ends what was signed in through the binding: its
			// browser sessions now, and its in-flight sign-ins (whose
			// callback would otherwise complete). Its descendant API tokens
			// fail authentication while it is not active.
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE idp_binding_id = $1 AND revoked_at IS NULL`,
				cur.ID, store.Micros(now)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_flows WHERE idp_binding_id = $1`, cur.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE idp_bindings SET status = $2, updated_at = $3 WHERE id = $1`,
			cur.ID, want, store.Micros(now)); err != nil {
			if store.IsUniqueViolation(err) {
				return problem.Conflict("binding_conflict", "A conflicting IdP binding was activated concurrently.")
			}
			return err
		}
		cur.Status, cur.UpdatedAt = want, now
		b = cur
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	s.forget(b.ID)
	return &bindingOutput{Body: b.API()}, nil
}

// chooser is the public list a sign-in page renders: the Domain's own
// active bindings, else the platform's, primary first. An unknown Domain
// gets the same answer as one without bindings (no existence oracle).
func (s *Service) chooser(ctx context.Context, in *chooserInput) (*chooserOutput, error) {
	id, err := pathid.Parse("domain", in.DomainID)
	if err != nil {
		return nil, err
	}
	out := &chooserOutput{CacheControl: "no-store", Body: []apiv1.DomainIdPBinding{}}
	for _, scope := range []string{id, ""} {
		bs, err := s.activeBindings(ctx, scope)
		if err != nil {
			return nil, problem.Internal(err)
		}
		if len(bs) == 0 {
			continue
		}
		sort.SliceStable(bs, func(i, j int) bool { return bs[i].Primary && !bs[j].Primary })
		for _, b := range bs {
			if len(out.Body) == maxChooser {
				break
			}
			host := ""
			if u, err := url.Parse(b.Issuer); err == nil {
				host = u.Host
			}
			label := b.Alias
			if label == "" {
				label = host
			}
			out.Body = append(out.Body, apiv1.DomainIdPBinding{ID: b.ID, Alias: b.Alias, Label: label, IssuerHost: host,
				Primary: b.Primary, PlatformScoped: b.DomainID == ""})
		}
		break
	}
	return out, nil
}
