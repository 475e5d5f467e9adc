package secrets

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/store"
)

const (
	secretsPath = "/v1/projects/{project_id}/secrets"
	secretPath  = secretsPath + "/{name}"
	tag         = "Secrets"
)

// Problem codes of this context (api.md §3.8 and the error table).
const (
	CodeSecretNotFound       = "secret_not_found"
	CodeVersionNotFound      = "secret_version_not_found"
	CodeVersionConflict      = "secret_version_conflict"
	CodeUnavailable          = "openbao_unavailable"
	CodeInvalidName          = "invalid_secret_name"
	CodeInvalidValue         = "invalid_secret_value"
	CodeValueTooLarge        = "secret_value_too_large"
	CodeInvalidProjectID     = "invalid_project_id"
	CodeBindingNotFound      = "secret_binding_not_found"
	CodeInvalidBinding       = "invalid_secret_binding"
	CodeDowngradeRefused     = "protocol_downgrade_refused"
	CodeInvalidSealingKey    = "invalid_sealing_key"
	CodePerNodeRateLimited   = "per_node_rate_limited"
	CodePerDomainRateLimited = "per_domain_rate_limited"
	maxPutBody               = backend.MaxValue*4/3 + 4096 // base64 of 512 KiB and the JSON around it
)

// ProjectPath is the path of the list operation.
type ProjectPath struct {
	ProjectID string `path:"project_id" doc:"Owning Project (UUID)."`
}

// SecretPathParams is the path of the operations on one secret.
type SecretPathParams struct {
	ProjectID string `path:"project_id" doc:"Owning Project (UUID)."`
	Name      string `path:"name" doc:"The secret's name: ^[a-z][a-z0-9_-]{0,62}$."`
}

type listInput struct {
	ProjectPath
	page.Params
}
type listOutput struct {
	Body apiv1.List[apiv1.SecretSummary]
}
type putInput struct {
	SecretPathParams
	RawBody []byte
}
type putOutput struct {
	Body apiv1.SecretWriteResult
}
type secretOutput struct {
	Body apiv1.Secret
}
type versionsOutput struct {
	Body apiv1.List[apiv1.SecretVersion]
}
type revealInput struct {
	SecretPathParams
	Body apiv1.SecretRevealRequest
}
type revealOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         apiv1.SecretReveal
}

func (s *Service) registerSecrets(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, secretsPath, "ListProjectSecrets", "secret.list", route.Operator,
		"List a Project's secrets: names and current versions, never values", tag), s.list)
	op := route.Op(http.MethodPut, secretPath, "PutProjectSecret", "secret.write", route.Operator,
		"Write a new version of a secret (the value is write-only)", tag)
	op.MaxBodyBytes = maxPutBody
	op.SkipValidateBody = true
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflectPut, true, "")},
	}}
	huma.Register(api, op, s.put)
	huma.Register(api, route.Op(http.MethodGet, secretPath, "GetProjectSecret", "secret.read", route.Operator,
		"Read a secret's metadata (never its value)", tag), s.get)
	op = route.Op(http.MethodDelete, secretPath, "DeleteProjectSecret", "secret.delete", route.Operator,
		"Destroy every version of a secret and its bindings", tag)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.delete)
	huma.Register(api, route.Op(http.MethodGet, secretPath+"/versions", "ListProjectSecretVersions", "secret.versions",
		route.Operator, "A secret's version history (no values)", tag), s.versions)
	huma.Register(api, route.Sensitive(route.Op(http.MethodPost, secretPath+"/reveal", "RevealProjectSecret",
		"secret.reveal", route.Operator, "Read a value back (permission secret-reveal, step-up, audited)", tag)), s.reveal)
}

// ids parses and checks the path.
func (p SecretPathParams) ids() (string, string, error) {
	pid, err := parseID(p.ProjectID)
	if err != nil {
		return "", "", err
	}
	if !backend.ValidName(p.Name) {
		return "", "", problem.BadRequest(CodeInvalidName, "A secret name matches ^[a-z][a-z0-9_-]{0,62}$, e.g. db-password.")
	}
	return pid, p.Name, nil
}

func parseID(s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || u == uuid.Nil || len(s) != 36 {
		return "", problem.BadRequest(CodeInvalidProjectID, "The project id must be a UUID.")
	}
	return u.String(), nil
}

// project checks permission on the Project and returns it.
func (s *Service) project(ctx context.Context, pid, permission string) (apiv1.Project, error) {
	if err := s.cfg.Authz.Check(ctx, permission, "project:"+pid); err != nil {
		return apiv1.Project{}, err
	}
	return s.cfg.Projects.GetProject(ctx, s.cfg.DB, pid)
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	pid, err := parseID(in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "operator", "project:"+pid); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Projects.GetProject(ctx, s.cfg.DB, pid); err != nil {
		return nil, err
	}
	scope := "secrets.list?project_id=" + pid
	var pos struct {
		Name string `json:"n"`
	}
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	after := pos.Name
	rows, err := s.cfg.DB.QueryContext(ctx, `SELECT name, current_version FROM secrets
		WHERE project_id = $1 AND name > $2 ORDER BY name LIMIT $3`, pid, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := apiv1.List[apiv1.SecretSummary]{Items: []apiv1.SecretSummary{}}
	for rows.Next() {
		var it apiv1.SecretSummary
		if err := rows.Scan(&it.Name, &it.CurrentVersion); err != nil {
			return nil, problem.Internal(err)
		}
		out.Items = append(out.Items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		pos.Name = out.Items[limit-1].Name
		if out.NextCursor, err = s.cfg.Pages.Next(ctx, scope, pos); err != nil {
			return nil, err
		}
	}
	return &listOutput{Body: out}, nil
}

// decodePut reads and checks a write's body; the value is returned
// decoded and must be zeroed by the caller.
func decodePut(raw []byte) ([]byte, *int64, error) {
	var req apiv1.SecretPutRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, nil, problem.BadRequest(CodeInvalidValue, "The body must be {\"value\": base64, \"expected_version\"?: int}.")
	}
	if req.ExpectedVersion != nil && *req.ExpectedVersion < 0 {
		return nil, nil, problem.BadRequest(CodeInvalidValue, "expected_version must be 0 or more.")
	}
	if base64.StdEncoding.DecodedLen(len(req.Value)) > backend.MaxValue+3 {
		return nil, nil, problem.New(http.StatusRequestEntityTooLarge, CodeValueTooLarge, "A value is at most 512 KiB.")
	}
	val, err := base64.StdEncoding.DecodeString(req.Value)
	if err != nil {
		return nil, nil, problem.BadRequest(CodeInvalidValue, "value must be standard base64.")
	}
	if len(val) > backend.MaxValue {
		clear(val)
		return nil, nil, problem.New(http.StatusRequestEntityTooLarge, CodeValueTooLarge, "A value is at most 512 KiB.")
	}
	return val, req.ExpectedVersion, nil
}

func (s *Service) put(ctx context.Context, in *putInput) (*putOutput, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "secret", "")
	proj, err := s.project(ctx, pid, "manage")
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(proj.DomainID, "secret", pid+"/"+name)
	val, cas, err := decodePut(in.RawBody)
	clear(in.RawBody)
	if err != nil {
		return nil, err
	}
	defer clear(val)
	path := backend.Path{DomainID: proj.DomainID, ProjectID: pid, Name: name}
	version, err := s.cfg.Backend.Put(ctx, path, val, backend.PutOptions{CAS: cas})
	if err != nil {
		return nil, s.backendError(ctx, err)
	}
	if err := s.recordVersion(ctx, path, version, true); err != nil {
		return nil, problem.From(err)
	}
	return &putOutput{Body: apiv1.SecretWriteResult{Name: name, CurrentVersion: version, ProjectID: pid}}, nil
}

// recordVersion records that version of the secret at path exists: the
// row is created or its current version raised (never lowered: a
// concurrent writer may have gone further), the bound nodes are told, and
// the change is audited: the request's entry when viaRequest, else a
// system entry (a version seen by the watcher).
func (s *Service) recordVersion(ctx context.Context, path backend.Path, version int64, viaRequest bool) error {
	return s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error { return s.recordVersionTx(ctx, tx, path, version, viaRequest) })
}

func (s *Service) recordVersionTx(ctx context.Context, tx *sql.Tx, path backend.Path, version int64, viaRequest bool) error {
	now := store.Micros(s.stamp())
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (id, domain_id, project_id, name, current_version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (project_id, name) DO UPDATE SET
			current_version = CASE WHEN excluded.current_version > secrets.current_version
				THEN excluded.current_version ELSE secrets.current_version END,
			updated_at = excluded.updated_at`,
		id, path.DomainID, path.ProjectID, path.Name, version, now); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `SELECT id FROM secrets WHERE project_id = $1 AND name = $2`,
		path.ProjectID, path.Name).Scan(&id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO secret_versions (secret_id, version, created_at)
		VALUES ($1, $2, $3) ON CONFLICT (secret_id, version) DO NOTHING`, id, version, now); err != nil {
		return err
	}
	v, err := loadView(ctx, tx, path.ProjectID)
	if err != nil {
		return err
	}
	if err := s.tell(ctx, tx, v, v.matched(ofSecret(id))); err != nil {
		return err
	}
	if viaRequest {
		audit.RequestFrom(ctx).Target(path.DomainID, "secret", id)
		return s.cfg.Audit.Commit(ctx, tx)
	}
	_, err = s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: path.DomainID, Action: "secret.rotated",
		Outcome: audit.Succeeded, Reason: "backend_version", IdentityRef: "system", ObjectType: "secret", ObjectID: id})
	return err
}

// backendError maps a backend failure to the API's problem; the cause is
// kept for the log, never shown.
func (s *Service) backendError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return problem.NotFound(CodeSecretNotFound, "No such secret.")
	case errors.Is(err, backend.ErrVersionNotFound):
		return problem.NotFound(CodeVersionNotFound, "No such version of the secret.")
	case errors.Is(err, backend.ErrConflict):
		return problem.Conflict(CodeVersionConflict, "The secret's current version is not expected_version; re-read it and retry.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	s.cfg.Logger.LogAttrs(ctx, levelFor(err), "secret backend failed", slogErr(err), slogBackend(s.BackendName()))
	return problem.New(http.StatusServiceUnavailable, CodeUnavailable, "The secret store is unavailable; retry shortly.").
		WithCause(err).WithHeader("Retry-After", "5")
}

// row is a secret's database row.
type row struct {
	ID, DomainID, ProjectID, Name string
	Current                       int64
	CreatedAt, UpdatedAt          time.Time
}

func (r row) path() backend.Path {
	return backend.Path{DomainID: r.DomainID, ProjectID: r.ProjectID, Name: r.Name}
}

// loadRow reads the secret name of Project pid; 404 when there is none.
func loadRow(ctx context.Context, q store.Querier, pid, name string) (row, error) {
	var r row
	var created, updated int64
	err := q.QueryRowContext(ctx, `SELECT id, domain_id, project_id, name, current_version, created_at, updated_at
		FROM secrets WHERE project_id = $1 AND name = $2`, pid, name).
		Scan(&r.ID, &r.DomainID, &r.ProjectID, &r.Name, &r.Current, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, problem.NotFound(CodeSecretNotFound, "No such secret.")
	}
	if err != nil {
		return row{}, problem.Internal(err)
	}
	r.CreatedAt, r.UpdatedAt = store.Time(created), store.Time(updated)
	return r, nil
}

func (s *Service) get(ctx context.Context, in *SecretPathParams) (*secretOutput, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	if _, err := s.project(ctx, pid, "operator"); err != nil {
		return nil, err
	}
	r, err := loadRow(ctx, s.cfg.DB, pid, name)
	if err != nil {
		return nil, err
	}
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_bindings WHERE secret_id = $1`, r.ID).Scan(&n); err != nil {
		return nil, problem.Internal(err)
	}
	return &secretOutput{Body: apiv1.Secret{Name: r.Name, ProjectID: r.ProjectID, CurrentVersion: r.Current, Bindings: n,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}}, nil
}

func (s *Service) delete(ctx context.Context, in *SecretPathParams) (*struct{}, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "secret", "")
	if _, err := s.project(ctx, pid, "manage"); err != nil {
		return nil, err
	}
	r, err := loadRow(ctx, s.cfg.DB, pid, name)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(r.DomainID, "secret", r.ID)
	if err := s.cfg.Backend.Delete(ctx, r.path()); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return nil, s.backendError(ctx, err)
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		v, err := loadView(ctx, tx, pid)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM secret_bindings WHERE secret_id = $1`,
			`DELETE FROM secret_versions WHERE secret_id = $1`, `DELETE FROM secrets WHERE id = $1`} {
			if _, err := tx.ExecContext(ctx, q, r.ID); err != nil {
				return err
			}
		}
		if err := s.tell(ctx, tx, v.without(ofSecret(r.ID)), v.matched(ofSecret(r.ID))); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return nil, nil
}

func (s *Service) versions(ctx context.Context, in *SecretPathParams) (*versionsOutput, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	if _, err := s.project(ctx, pid, "operator"); err != nil {
		return nil, err
	}
	r, err := loadRow(ctx, s.cfg.DB, pid, name)
	if err != nil {
		return nil, err
	}
	md, err := s.cfg.Backend.Metadata(ctx, r.path())
	if err != nil {
		return nil, s.backendError(ctx, err)
	}
	out := apiv1.List[apiv1.SecretVersion]{Items: []apiv1.SecretVersion{}}
	for _, v := range md.Versions {
		sv := apiv1.SecretVersion{Version: v.Version, CreatedAt: v.CreatedAt.UTC()}
		if !v.DestroyedAt.IsZero() {
			d := v.DestroyedAt.UTC()
			sv.DestroyedAt = &d
		}
		out.Items = append(out.Items, sv)
	}
	return &versionsOutput{Body: out}, nil
}

func (s *Service) reveal(ctx context.Context, in *revealInput) (*revealOutput, error) {
	pid, name, err := in.ids()
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target("", "secret", "")
	if _, err := s.project(ctx, pid, "secret-reveal"); err != nil {
		return nil, err
	}
	r, err := loadRow(ctx, s.cfg.DB, pid, name)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(r.DomainID, "secret", r.ID)
	v, err := s.cfg.Backend.Get(ctx, r.path(), in.Body.Version)
	if err != nil {
		return nil, s.backendError(ctx, err)
	}
	defer clear(v.Data)
	// The entry commits before the value leaves: no reveal goes unaudited.
	if err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error { return s.cfg.Audit.Commit(ctx, tx) }); err != nil {
		return nil, problem.From(err)
	}
	return &revealOutput{CacheControl: "no-store", Body: apiv1.SecretReveal{Name: name, Version: v.Version,
		Value: base64.StdEncoding.EncodeToString(v.Data)}}, nil
}
