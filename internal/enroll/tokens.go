package enroll

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Bootstrap token lifetimes and limits (api.md §3.5).
const (
	DefaultTokenTTL = time.Hour
	MinTokenTTL     = 5 * time.Minute
	MaxTokenTTL     = 24 * time.Hour
	maxTokenLabels  = 64
)

// Token layout: psb_<env>_<project id, 26 base32>_<kind>_<lookup><secret>.
// The lookup part names the row, so verification reads one row and runs one
// Argon2id; the secret part carries the entropy.
const (
	lookupBytes = 10 // 16 base32 characters
	secretBytes = 20 // 32 base32 characters, 160 bits
	lookupLen   = 16
)

// Argon2id parameters (RFC 9106 / OWASP minimum: 19 MiB, 2 passes). The
// token carries 160 random bits, so the hash guards a database leak, not a
// weak secret; concurrency is bounded by Service.hashSem.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func lowerB32(b []byte) string { return strings.ToLower(b32.EncodeToString(b)) }

// newToken mints a token for a project and kind and returns its lookup id.
func newToken(env, projectID, kind string) (plain, lookup string) {
	u := uuid.MustParse(projectID)
	tail := make([]byte, lookupBytes+secretBytes)
	rand.Read(tail)
	lookup = lowerB32(tail[:lookupBytes])
	plain = "psb_" + env + "_" + lowerB32(u[:]) + "_" + kind + "_" + lookup + lowerB32(tail[lookupBytes:])
	return plain, lookup
}

// parsedToken is what the plaintext says about itself; it is trusted only
// after the hash matched.
type parsedToken struct {
	projectID, kind, lookup string
}

// parseToken splits a presented token; ok is false for anything that is not
// a psb_ token of our layout.
func parseToken(s string) (parsedToken, bool) {
	parts := strings.Split(s, "_")
	if len(parts) != 5 || parts[0] != "psb" || parts[1] == "" || (parts[3] != "node" && parts[3] != "bridge" && parts[3] != KindGateway) {
		return parsedToken{}, false
	}
	raw, err := b32.DecodeString(strings.ToUpper(parts[2]))
	if err != nil || len(raw) != 16 || len(parts[4]) < lookupLen+20 {
		return parsedToken{}, false
	}
	u, _ := uuid.FromBytes(raw)
	return parsedToken{projectID: u.String(), kind: parts[3], lookup: parts[4][:lookupLen]}, true
}

// hashToken returns the PHC string of Argon2id over the plaintext.
func (s *Service) hashToken(ctx context.Context, plain string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	sum, err := s.argon(ctx, plain, salt, argonTime, argonMemory, argonThreads)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// verifyToken checks plain against a stored PHC string in constant time.
func (s *Service) verifyToken(ctx context.Context, plain, encoded string) (bool, error) {
	var (
		v       int
		m, t, p uint32
	)
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("enroll: stored token hash is not argon2id")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errors.New("enroll: stored token hash has an unknown version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 256*1024 || t > 10 || p > 8 {
		return false, errors.New("enroll: stored token hash has bad parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false, errors.New("enroll: stored token hash is not base64")
	}
	got, err := s.argon(ctx, plain, salt, t, m, uint8(p))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// argon runs one Argon2id under the concurrency bound.
func (s *Service) argon(ctx context.Context, plain string, salt []byte, t, m uint32, p uint8) ([]byte, error) {
	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.hashSem }()
	return argon2.IDKey([]byte(plain), salt, t, m, p, argonKeyLen), nil
}

// tokenRow is a stored bootstrap token.
type tokenRow struct {
	apiv1.BootstrapToken
	domainID   string
	secretHash string
}

const tokenColumns = `id, project_id, domain_id, kind, env_prefix, secret_hash, labels, max_uses, uses,
	issued_by_user_id, issued_at, expires_at, consumed_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (tokenRow, error) {
	var (
		r                 tokenRow
		labels            string
		issued, expires   int64
		consumed, revoked *int64
	)
	err := row.Scan(&r.ID, &r.ProjectID, &r.domainID, &r.Kind, &r.EnvPrefix, &r.secretHash, &labels, &r.MaxUses,
		&r.Uses, &r.IssuedByUserID, &issued, &expires, &consumed, &revoked)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
		return r, fmt.Errorf("enroll: token %s labels: %w", r.ID, err)
	}
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	r.IssuedAt, r.ExpiresAt = store.Time(issued), store.Time(expires)
	r.ConsumedAt, r.RevokedAt = store.NullTime(consumed), store.NullTime(revoked)
	return r, nil
}

type projectInput struct {
	ProjectID string `path:"project_id" doc:"Project id (UUID)."`
}
type listTokensInput struct {
	ProjectID string `path:"project_id" doc:"Project id (UUID)."`
	page.Params
}
type tokenIDInput struct {
	ProjectID string `path:"project_id" doc:"Project id (UUID)."`
	ID        string `path:"id" doc:"Bootstrap token id (UUID)."`
}
type issueTokenInput struct {
	ProjectID string `path:"project_id" doc:"Project id (UUID)."`
	Body      apiv1.IssueBootstrapToken
}
type issuedTokenOutput struct {
	Location     string `header:"Location"`
	CacheControl string `header:"Cache-Control"`
	Body         apiv1.IssuedBootstrapToken
}
type tokenOutput struct{ Body apiv1.BootstrapToken }
type tokensOutput struct {
	Body apiv1.List[apiv1.BootstrapToken]
}

func (s *Service) registerTokens(api huma.API) {
	const base = "/v1/projects/{project_id}/bootstrap-tokens"
	op := route.Op(http.MethodPost, base, "issueBootstrapToken", "bootstrap_token.issue", route.Operator,
		"Mint a psb_ bootstrap token (plaintext returned once)", "Enrolment")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.issueToken)
	huma.Register(api, route.Op(http.MethodGet, base, "listBootstrapTokens", "bootstrap_token.list", route.Operator,
		"List a Project's bootstrap tokens (metadata only, creation order)", "Enrolment"), s.listTokens)
	huma.Register(api, route.Op(http.MethodGet, base+"/{id}", "getBootstrapToken", "bootstrap_token.read",
		route.Operator, "Read a bootstrap token's metadata", "Enrolment"), s.getToken)
	op = route.Op(http.MethodDelete, base+"/{id}", "revokeBootstrapToken", "bootstrap_token.revoke", route.Operator,
		"Revoke a bootstrap token (409 once consumed or revoked)", "Enrolment")
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.revokeToken)
}

// projectDomain returns the Domain of a project, or 404 project_not_found.
func projectDomain(ctx context.Context, q store.Querier, projectID string) (domainID, subRange string, err error) {
	err = q.QueryRowContext(ctx, `SELECT domain_id, sub_range_cidr FROM projects WHERE id = $1`, projectID).
		Scan(&domainID, &subRange)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", problem.NotFound("project_not_found", "No such Project.")
	}
	if err != nil {
		return "", "", problem.Internal(err)
	}
	return domainID, subRange, nil
}

func (s *Service) issueToken(ctx context.Context, in *issueTokenInput) (*issuedTokenOutput, error) {
	pid, err := pathid.Parse("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "bootstrap_token", "")
	if err := s.authz.Check(ctx, "deploy", "project:"+pid); err != nil {
		return nil, err
	}
	b := in.Body
	ttl := DefaultTokenTTL
	if b.TTLSeconds != 0 {
		ttl = time.Duration(b.TTLSeconds) * time.Second
	}
	if b.MaxUses == 0 {
		b.MaxUses = 1
	}
	if len(b.Labels) > maxTokenLabels {
		return nil, problem.BadRequest("invalid_body", "A token binds at most 64 labels.")
	}
	domainID, _, err := projectDomain(ctx, s.db, pid)
	if err != nil {
		return nil, err
	}
	// Token labels are label assignments made later, at each registration:
	// check them now, with the issuer's authority.
	if err := s.labels.CheckBindings(ctx, "node", domainID, pid, b.Labels); err != nil {
		return nil, err
	}
	labels, _ := json.Marshal(nonNilMap(b.Labels))
	p := principal.From(ctx)
	plain, lookup := newToken(b.EnvPrefix, pid, b.Kind)
	hash, err := s.hashToken(ctx, plain)
	if err != nil {
		return nil, problem.From(err)
	}
	now := s.stamp()
	out := &issuedTokenOutput{CacheControl: "no-store", Body: apiv1.IssuedBootstrapToken{
		TokenID: uuid.Must(uuid.NewV7()).String(), Token: plain, IssuedAt: now, ExpiresAt: now.Add(ttl)}}
	out.Location = "/v1/projects/" + pid + "/bootstrap-tokens/" + out.Body.TokenID
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		domainID, _, err := projectDomain(ctx, tx, pid)
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(domainID, "bootstrap_token", out.Body.TokenID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO bootstrap_tokens (id, lookup, project_id, domain_id, kind,
			env_prefix, secret_hash, labels, max_uses, uses, issued_by_user_id, issued_at, expires_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,0,$10,$11,$12)`,
			out.Body.TokenID, lookup, pid, domainID, b.Kind, b.EnvPrefix, hash, string(labels), b.MaxUses,
			p.IdentityID, store.Micros(now), store.Micros(out.Body.ExpiresAt)); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return out, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Service) listTokens(ctx context.Context, in *listTokensInput) (*tokensOutput, error) {
	pid, err := pathid.Parse("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	scope := "bootstrap_tokens.list?project_id=" + pid
	var after string
	limit, err := s.pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	if _, _, err := projectDomain(ctx, s.db, pid); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM bootstrap_tokens
		WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3`, pid, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &tokensOutput{Body: apiv1.List[apiv1.BootstrapToken]{Items: []apiv1.BootstrapToken{}}}
	for rows.Next() {
		r, err := scanToken(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, r.BootstrapToken)
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

// loadToken reads a token of a project, or 404 bootstrap_token_not_found.
func loadToken(ctx context.Context, q store.Querier, pid, id, lock string) (tokenRow, error) {
	r, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM bootstrap_tokens
		WHERE id = $1 AND project_id = $2`+lock, id, pid))
	if errors.Is(err, sql.ErrNoRows) {
		return r, problem.NotFound("bootstrap_token_not_found", "No such bootstrap token in this Project.")
	}
	if err != nil {
		return r, problem.Internal(err)
	}
	return r, nil
}

func (s *Service) getToken(ctx context.Context, in *tokenIDInput) (*tokenOutput, error) {
	pid, err := pathid.Parse("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("token", in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	r, err := loadToken(ctx, s.db, pid, id, "")
	if err != nil {
		return nil, err
	}
	return &tokenOutput{Body: r.BootstrapToken}, nil
}

func (s *Service) revokeToken(ctx context.Context, in *tokenIDInput) (*struct{}, error) {
	pid, err := pathid.Parse("project", in.ProjectID)
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("token", in.ID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "bootstrap_token", id)
	if err := s.authz.Check(ctx, "deploy", "project:"+pid); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := loadToken(ctx, tx, pid, id, s.db.ForUpdate())
		if err != nil {
			return err
		}
		audit.RequestFrom(ctx).Target(r.domainID, "bootstrap_token", id)
		switch {
		case r.RevokedAt != nil:
			return problem.Conflict("illegal_transition", "The bootstrap token is already revoked.")
		case r.ConsumedAt != nil:
			return problem.Conflict("illegal_transition", "The bootstrap token is already consumed.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bootstrap_tokens SET revoked_at = $2 WHERE id = $1`,
			id, store.Micros(s.stamp())); err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	return nil, problem.From(err)
}
