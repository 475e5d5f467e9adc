package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/crypto/ssh"

	"github.com/plexsphere/plexsphere/internal/accesstoken"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

const (
	sessionsPath = "/v1/projects/{project_id}/sessions"
	sessionPath  = sessionsPath + "/{session_id}"
	tag          = "Access"
)

// Problem codes of this context.
const (
	CodeInvalidTarget       = "invalid_target"
	CodeInvalidBody         = "invalid_body"
	CodeSessionLimit        = "session_limit_exceeded"
	CodeSessionNotFound     = "session_not_found"
	CodeSessionNotActive    = "session_not_active"
	CodeResourceNotFound    = "resource_not_found"
	CodeResourceHasNoNode   = "resource_has_no_node"
	CodeIdempotentReplay    = "idempotent_replay"
	CodeInvalidSessionID    = "invalid_session_id"
	CodeInvalidProjectID    = "invalid_project_id"
	CodeGatewayUnavailable  = "session_gateway_unavailable"
	CodeSessionRevoked      = "session_already_revoked"
	CodeSessionExpired      = "session_expired"
	CodeRecordingNotFound   = "recording_not_found"
	CodeRecordingTooLarge   = "recording_too_large"
	CodeRecordingOffset     = "recording_offset_mismatch"
	CodeSessionTokenInvalid = "session_token_invalid"
)

type ProjectParams struct {
	ProjectID string `path:"project_id" doc:"Owning Project (UUID)."`
}

type issueInput struct {
	ProjectParams
	Body apiv1.IssueSessionRequest
}

type issueOutput struct {
	Location     string `header:"Location"`
	CacheControl string `header:"Cache-Control"`
	Body         apiv1.IssuedSession
}

// issueSpec is a validated issuance.
type issueSpec struct {
	projectID, domainID, resourceID, nodeID string
	caller                                  *principal.Principal
	req                                     apiv1.IssueSessionRequest
	ttl                                     time.Duration
	name                                    string
	groups                                  []string
}

func (s *Service) registerSessions(api huma.API) {
	op := route.Op(http.MethodPost, sessionsPath, "IssueSession", "session.issue", route.Operator,
		"Issue a session for one Resource's node: the token is returned once", tag)
	op.DefaultStatus = http.StatusCreated
	op.MaxBodyBytes = 16 << 10
	huma.Register(api, op, s.issue)
	huma.Register(api, route.Op(http.MethodGet, sessionsPath, "ListSessions", "session.list", route.Operator,
		"List a Project's sessions, newest issuance last", tag), s.list)
	huma.Register(api, route.Op(http.MethodGet, sessionPath, "GetSession", "session.read", route.Operator,
		"Read a session (never its token)", tag), s.get)
	// The contract's custom verb ({session_id}:revoke) is not a net/http
	// pattern: the route is the session's path, hidden, and the handler
	// requires the verb; the document shows the contract's path.
	op = route.Op(http.MethodPost, sessionPath+":revoke", "RevokeSession", "session.revoke", route.Operator,
		"Revoke a session now: the node ends it within a second", tag)
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = 8 << 10
	routed := op
	routed.Path, routed.Hidden, routed.SkipValidateBody = sessionPath, true, true
	huma.Register(api, routed, s.revoke)
	doc := op
	doc.Parameters = []*huma.Param{
		{Name: "project_id", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Format: "uuid"}},
		{Name: "session_id", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Format: "uuid"}},
	}
	doc.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[apiv1.RevokeSessionRequest](), true, "")}}}
	doc.Responses = map[string]*huma.Response{"204": {Description: "Revoked (also when it already was)."}}
	api.OpenAPI().AddOperation(&doc)
	huma.Register(api, route.Op(http.MethodGet, sessionPath+"/recording", "GetSessionRecording", "session.recording.read",
		route.Operator, "Ours: an ssh session's recording (asciicast v2)", tag), s.recording)
}

func parseUUID(code, s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", problem.BadRequest(code, "The id must be a UUID.")
	}
	return u.String(), nil
}

func (s *Service) issue(ctx context.Context, in *issueInput) (*issueOutput, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return nil, err
	}
	spec, err := s.check(ctx, pid, in.Body)
	if err != nil {
		return nil, err
	}
	if spec.req.IdempotencyKey != "" {
		if out, err := s.replay(ctx, spec); out != nil || err != nil {
			return out, err
		}
	}
	if err := s.admit(ctx, spec.domainID); err != nil {
		return nil, err
	}
	source, err := s.source(ctx, pid)
	if err != nil {
		return nil, err
	}
	return s.create(ctx, spec, source)
}

// check runs the contract's order up to the caps: the body's shape, ReBAC
// on the Resource, step-up, the TTL clamp, the Resource's node.
func (s *Service) check(ctx context.Context, pid string, req apiv1.IssueSessionRequest) (issueSpec, error) {
	spec := issueSpec{projectID: pid, req: req, caller: principal.From(ctx)}
	if spec.caller == nil {
		return spec, problem.Unauthenticated()
	}
	rid, err := parseUUID(CodeInvalidBody, req.ResourceID)
	if err != nil {
		return spec, problem.BadRequest(CodeInvalidBody, "resource_id must be a UUID.")
	}
	spec.resourceID = rid
	if err := req.Target.Validate(req.Kind); err != nil {
		return spec, problem.BadRequest(CodeInvalidTarget, err.Error())
	}
	switch {
	case req.Terminal && req.Kind != nodeproto.SessionSSH:
		return spec, problem.BadRequest(CodeInvalidTarget, "terminal belongs to ssh sessions only.")
	case req.Terminal && req.PublicKey != "":
		return spec, problem.BadRequest(CodeInvalidTarget, "A terminal session uses the control plane's key: send public_key or terminal, not both.")
	case req.Terminal && len(s.cfg.TerminalKey) == 0:
		return spec, problem.New(http.StatusServiceUnavailable, CodeTerminalUnavailable, "This control plane has no browser terminal key.")
	case req.Terminal:
	case req.Kind == nodeproto.SessionSSH && req.PublicKey == "":
		return spec, problem.BadRequest(CodeInvalidTarget, "ssh sessions need public_key (the OpenSSH public key the session will accept) or terminal.")
	case req.Kind == nodeproto.SessionSSH:
		if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey)); err != nil || len(strings.TrimSpace(string(rest))) > 0 {
			return spec, problem.BadRequest(CodeInvalidTarget, "public_key must be one OpenSSH authorized_keys line.")
		}
	case req.PublicKey != "":
		return spec, problem.BadRequest(CodeInvalidTarget, "public_key belongs to ssh sessions only.")
	}
	// The ReBAC check comes before anything is read, so a Resource the
	// caller may not connect to looks the same whether it exists or not.
	audit.RequestFrom(ctx).Target("", "resource", rid)
	if err := s.cfg.Authz.Check(ctx, "connect", "resource:"+rid); err != nil {
		return spec, err
	}
	if s.cfg.StepUp != nil {
		if err := s.cfg.StepUp.RequireStepUp(ctx, spec.caller); err != nil {
			return spec, err
		}
	}
	res, err := s.cfg.Tenancy.GetResource(ctx, s.cfg.DB, rid)
	if err != nil || res.ProjectID != pid {
		return spec, problem.NotFound(CodeResourceNotFound, "No such Resource in this Project.")
	}
	spec.domainID = res.DomainID
	audit.RequestFrom(ctx).Target(res.DomainID, "resource", rid)
	spec.ttl = s.cfg.DefaultTTL
	if req.RequestedTTLSeconds > 0 {
		spec.ttl = min(time.Duration(req.RequestedTTLSeconds)*time.Second, s.cfg.MaxTTL)
	}
	err = s.cfg.DB.QueryRowContext(ctx, `SELECT id FROM nodes WHERE resource_id = $1 AND project_id = $2
		AND revoked_at IS NULL AND kind <> 'gateway' ORDER BY created_at DESC LIMIT 1`, rid, pid).Scan(&spec.nodeID)
	if errors.Is(err, sql.ErrNoRows) {
		return spec, problem.Conflict(CodeResourceHasNoNode, "The Resource has no live node to reach.")
	} else if err != nil {
		return spec, problem.Internal(err)
	}
	spec.name, spec.groups, err = s.identityOf(ctx, spec.caller)
	if err != nil {
		return spec, problem.Internal(err)
	}
	if req.Kind == nodeproto.SessionK8s {
		return spec, checkImpersonation(&spec)
	}
	return spec, nil
}

// checkImpersonation holds a k8s session to the caller: the user it
// impersonates is the caller (by name or id), and its groups are the
// caller's (all of them when the request names none).
func checkImpersonation(spec *issueSpec) error {
	k := spec.req.Target.K8s
	if k.User != spec.name && k.User != spec.caller.IdentityID && k.User != spec.caller.Ref() {
		return problem.BadRequest(CodeInvalidTarget, "A k8s session impersonates its caller: target.k8s.user must be "+
			strconv.Quote(spec.name)+" (or "+strconv.Quote(spec.caller.Ref())+", the whoami subject).")
	}
	for _, g := range k.ImpersonateGroups {
		if !slices.Contains(spec.groups, g) {
			return problem.BadRequest(CodeInvalidTarget, "target.k8s.impersonate_groups may only name the caller's groups; "+
				strconv.Quote(g)+" is not one.")
		}
	}
	if len(k.ImpersonateGroups) == 0 {
		t := *k
		t.ImpersonateGroups = slices.Clone(spec.groups)
		if len(t.ImpersonateGroups) > 32 {
			t.ImpersonateGroups = t.ImpersonateGroups[:32]
		}
		spec.req.Target.K8s = &t
	}
	return nil
}

// identityOf is the caller's name (e-mail, else display name) and the
// slugs of its groups.
func (s *Service) identityOf(ctx context.Context, p *principal.Principal) (string, []string, error) {
	var name, email sql.NullString
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT display_name, email FROM identities WHERE id = $1`, p.IdentityID).Scan(&name, &email)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", nil, err
	}
	n := p.DisplayName
	if email.Valid && email.String != "" {
		n = email.String
	} else if name.Valid && name.String != "" {
		n = name.String
	}
	if n == "" {
		n = p.IdentityID
	}
	groups, err := store.Strings(ctx, s.cfg.DB, `SELECT g.slug FROM principal_groups g
		JOIN principal_group_members m ON m.group_id = g.id
		WHERE m.principal_kind = $1 AND m.principal_id = $2 ORDER BY g.slug LIMIT 64`, string(p.Kind), p.IdentityID)
	return n, groups, err
}

// admit applies the Domain's issuance rate and live-session cap.
func (s *Service) admit(ctx context.Context, domainID string) error {
	if ok, wait := s.issues.Allow(domainID); !ok {
		return limited("The Domain's session issuance rate is exhausted.", wait)
	}
	var live int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM access_sessions
		WHERE domain_id = $1 AND status = 'active' AND expires_at > $2`, domainID, store.Micros(s.cfg.Now())).Scan(&live); err != nil {
		return problem.Internal(err)
	}
	if live >= s.cfg.MaxLive {
		return limited("The Domain has "+strconv.Itoa(live)+" live sessions, its cap.", 30*time.Second)
	}
	return nil
}

func limited(detail string, wait time.Duration) error {
	secs := max(1, int(wait.Round(time.Second)/time.Second))
	return problem.New(http.StatusTooManyRequests, CodeSessionLimit, detail).WithHeader("Retry-After", strconv.Itoa(secs))
}

// source is the mesh IP of the Project's gateway, started if need be.
func (s *Service) source(ctx context.Context, pid string) (string, error) {
	if s.cfg.Gateway == nil {
		return "", nil
	}
	src, err := s.cfg.Gateway.Source(ctx, pid)
	if err != nil {
		s.cfg.Logger.Warn("session gateway unavailable", "project_id", pid, "error", err.Error())
		return "", problem.Unavailable(CodeGatewayUnavailable, err)
	}
	return src, nil
}

// create signs the token, then writes the session, tells the node and
// audits in one transaction.
func (s *Service) create(ctx context.Context, spec issueSpec, source string) (*issueOutput, error) {
	now := s.cfg.Now().UTC().Truncate(time.Second)
	id := uuid.Must(uuid.NewV7()).String()
	claims := accesstoken.Claims{
		Issuer: accesstoken.DomainIssuer(spec.domainID), Subject: spec.caller.IdentityID,
		Audience: jwt.Audience{accesstoken.ResourceAudience(spec.resourceID), accesstoken.NodeAudience(spec.nodeID)},
		ID:       id, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(spec.ttl)), Kind: spec.req.Kind, Target: spec.req.Target,
		Name: spec.name, Groups: spec.groups, AuthorizedKey: strings.TrimSpace(spec.req.PublicKey), Source: source,
	}
	if spec.req.Terminal {
		_, claims.AuthorizedKey = s.terminalKey(id)
	}
	rawClaims, err := json.Marshal(claims)
	if err != nil {
		return nil, problem.Internal(err)
	}
	target, _ := json.Marshal(spec.req.Target)
	// Signed before the transaction: the signing key is read through its
	// own connection, which a transaction holding one must not wait for.
	key, err := s.cfg.Keys.ActiveKey(ctx, s.cfg.DB, spec.domainID)
	if err != nil {
		return nil, problem.From(err)
	}
	token, err := s.sign(ctx, key.KID, key.Public, claims)
	if err != nil {
		return nil, problem.Internal(err)
	}
	var out *issueOutput
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO access_sessions (id, domain_id, project_id, resource_id, node_id,
			identity_id, kind, target, claims, kid, status, idempotency_key, issued_at, expires_at, last_active_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'active',$11,$12,$13,$12)`,
			id, spec.domainID, spec.projectID, spec.resourceID, spec.nodeID, spec.caller.IdentityID, spec.req.Kind,
			string(target), string(rawClaims), key.KID, spec.req.IdempotencyKey, store.Micros(now),
			store.Micros(claims.Expiry.Time())); err != nil {
			return err
		}
		setup := nodeproto.SessionSetup{SessionID: id, JTI: id, Kind: spec.req.Kind, Target: spec.req.Target,
			ExpiresAt: claims.Expiry.Time().UTC(), CallbackURL: s.cfg.PublicURL + "/v1/nodes/" + spec.nodeID + "/sessions/" + id,
			AuthorizedKey: claims.AuthorizedKey, Source: source}
		if err := s.cfg.Events.Emit(ctx, tx, []string{spec.nodeID}, nodeproto.EventSessionSetup, setup); err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(spec.domainID, "session", id)
		if err := s.cfg.Audit.Commit(ctx, tx); err != nil {
			return err
		}
		sess := apiv1.Session{ID: id, ProjectID: spec.projectID, DomainID: spec.domainID, ResourceID: spec.resourceID,
			IdentityID: spec.caller.IdentityID, Kind: spec.req.Kind, Status: statusActive, IssuedAt: now,
			ExpiresAt: claims.Expiry.Time().UTC(), LastActiveAt: now, Target: spec.req.Target, NodeID: spec.nodeID,
			Terminal: spec.req.Terminal}
		out = issued(sess, token)
		return nil
	})
	if err != nil {
		if store.IsUniqueViolation(err) && spec.req.IdempotencyKey != "" {
			return nil, problem.Conflict(CodeIdempotentReplay, "A request with this idempotency_key is being answered; retry it.")
		}
		return nil, problem.From(err)
	}
	return out, nil
}

func issued(sess apiv1.Session, token string) *issueOutput {
	return &issueOutput{Location: "/v1/projects/" + sess.ProjectID + "/sessions/" + sess.ID, CacheControl: "no-store",
		Body: apiv1.IssuedSession{SessionID: sess.ID, Token: token, ExpiresAt: sess.ExpiresAt, Session: sess}}
}

// sign signs claims with the named Domain key.
func (s *Service) sign(ctx context.Context, kid string, public []byte, c accesstoken.Claims) (string, error) {
	return accesstoken.Sign(ctx, kid, public, s.cfg.Keys.SignWith, c)
}

// replay answers a repeated (identity, idempotency_key) while the original
// session is live: the same session and the same token, re-signed from its
// stored claims. A request that differs from the original is a conflict.
func (s *Service) replay(ctx context.Context, spec issueSpec) (*issueOutput, error) {
	row, err := s.load(ctx, s.cfg.DB, `identity_id = $1 AND idempotency_key = $2`, spec.caller.IdentityID, spec.req.IdempotencyKey)
	if errors.Is(err, errNoSession) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sess := row.api(s.cfg.Now())
	if sess.Status != statusActive {
		return nil, problem.Conflict(CodeIdempotentReplay, "The session of this idempotency_key has ended; use a new key.")
	}
	if row.ProjectID != spec.projectID || row.ResourceID != spec.resourceID || row.Kind != spec.req.Kind || sess.Terminal != spec.req.Terminal {
		return nil, problem.Conflict(CodeIdempotentReplay, "This idempotency_key was used for another request.")
	}
	token, err := s.token(ctx, row)
	if err != nil {
		return nil, err
	}
	return issued(sess, token), nil
}

// token re-signs a session's token from its stored claims.
func (s *Service) token(ctx context.Context, row sessionRow) (string, error) {
	var c accesstoken.Claims
	if err := json.Unmarshal([]byte(row.Claims), &c); err != nil {
		return "", problem.Internal(err)
	}
	keys, err := s.cfg.Keys.PublicKeys(ctx, row.DomainID)
	if err != nil {
		return "", problem.Internal(err)
	}
	for _, k := range keys {
		if k.KID == row.KID {
			t, err := s.sign(ctx, k.KID, k.Public, c)
			if err != nil {
				return "", problem.Internal(err)
			}
			return t, nil
		}
	}
	return "", problem.Conflict(CodeSessionNotActive, "The session's signing key has been retired.")
}
