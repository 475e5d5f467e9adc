package actions

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// manifest is a node's capability manifest as dispatch reads it.
type manifest struct {
	reported bool
	caps     nodeproto.Capabilities
	at       int64
}

// declares reports whether the manifest declares the action, and for a
// hook its declared checksum. A node that never sent a manifest (the
// existing agent) has the level-1 built-ins only.
func (m manifest) declares(typ, action string) (string, bool) {
	if typ == TypeHook {
		for _, h := range m.caps.Hooks {
			if h.Name == action && nodeproto.ValidChecksum(h.Checksum) {
				return h.Checksum, true
			}
		}
		return "", false
	}
	if !m.reported || m.caps.BuiltinActions == nil {
		return "", slices.Contains(level1Builtins, action)
	}
	return "", slices.ContainsFunc(m.caps.BuiltinActions, func(b nodeproto.BuiltinAction) bool { return b.Name == action })
}

// loadManifests reads the manifests of the given nodes.
func loadManifests(ctx context.Context, q store.Querier, ids []string) (map[string]manifest, error) {
	out := make(map[string]manifest, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		ph, args := placeholders(chunk)
		rows, err := q.QueryContext(ctx, `SELECT node_id, capabilities, COALESCE(capabilities_at, 0) FROM node_agents
			WHERE capabilities IS NOT NULL AND node_id IN (`+ph+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, raw string
			var at int64
			if err := rows.Scan(&id, &raw, &at); err != nil {
				rows.Close()
				return nil, err
			}
			m := manifest{reported: true, at: at}
			if json.Unmarshal([]byte(raw), &m.caps) == nil {
				out[id] = m
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hookChecksum is the digest a node declared for a hook ("" if none).
func hookChecksum(ctx context.Context, q store.Querier, nodeID, hook string) (string, error) {
	ms, err := loadManifests(ctx, q, []string{nodeID})
	if err != nil {
		return "", err
	}
	sum, _ := ms[nodeID].declares(TypeHook, hook)
	return sum, nil
}

func placeholders(ids []string) (string, []any) {
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i], args[i] = "$"+itoa(i+1), id
	}
	return strings.Join(ph, ","), args
}

func (s *Service) registerInventory(api huma.API) {
	huma.Register(api, route.Op(http.MethodGet, "/v1/projects/{project_id}/capabilities", "ListCapabilities", "capability.list",
		route.Operator, "Each node's reported binary and capabilities, with its drift status", "Capabilities"), s.capabilities)
	huma.Register(api, route.Op(http.MethodGet, "/v1/hooks", "ListHooks", "hook.list", route.Operator,
		"Hooks nodes declared, per node, with whether the digest matches the declared one", "Hooks"), s.hooks)
	huma.Register(api, route.Op(http.MethodGet, "/v1/integrity-violations", "ListIntegrityViolations", "integrity.list",
		route.Operator, "Integrity violations nodes reported", "Integrity"), s.violations)
	op := route.Sensitive(route.Op(http.MethodPost, "/v1/integrity-violations/{id}/acknowledge", "AcknowledgeIntegrityViolation",
		"integrity.acknowledge", route.Operator, "Acknowledge a violation with a reason: the node is scheduled again", "Integrity"))
	op.MaxBodyBytes = 4 << 10
	huma.Register(api, op, s.acknowledge)
}

type capabilitiesInput struct {
	ProjectParams
	NodeID string `query:"node_id" doc:"Only this node."`
	Status string `query:"status" enum:"match,drift,unknown" doc:"Only rows in this status."`
	page.Params
}

type capabilitiesOutput struct {
	Body apiv1.List[apiv1.CapabilityRow]
}

// capabilities lists the Project's nodes' manifests: drift when the node
// has an open integrity violation, match when it reported a binary
// checksum and has none, unknown otherwise.
func (s *Service) capabilities(ctx context.Context, in *capabilitiesInput) (*capabilitiesOutput, error) {
	pid, err := parseUUID(CodeInvalidProjectID, in.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Projects.GetProject(ctx, s.cfg.DB, pid); err != nil {
		return nil, err
	}
	if err := filterIDs(map[string]string{"invalid_node_id": in.NodeID}); err != nil {
		return nil, err
	}
	scope := "capabilities.list?project_id=" + pid + "&node_id=" + in.NodeID + "&status=" + in.Status
	var pos struct {
		ID string `json:"i"`
	}
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	q := `SELECT n.id, n.domain_id FROM nodes n JOIN node_agents a ON a.node_id = n.id WHERE n.project_id = $1
		AND n.revoked_at IS NULL AND n.kind <> 'gateway' AND a.capabilities IS NOT NULL AND n.id > $2`
	args := []any{pid, pos.ID}
	if in.NodeID != "" {
		q += ` AND n.id = $3`
		args = append(args, in.NodeID)
	}
	rows, err := s.cfg.DB.QueryContext(ctx, q+` ORDER BY n.id`, args...)
	if err != nil {
		return nil, problem.Internal(err)
	}
	var ids, domains []string
	for rows.Next() {
		var id, d string
		if err := rows.Scan(&id, &d); err != nil {
			rows.Close()
			return nil, problem.Internal(err)
		}
		ids, domains = append(ids, id), append(domains, d)
	}
	rows.Close()
	ms, err := loadManifests(ctx, s.cfg.DB, ids)
	if err != nil {
		return nil, problem.Internal(err)
	}
	drifted, err := s.driftedNodes(ctx, ids)
	if err != nil {
		return nil, problem.Internal(err)
	}
	out := apiv1.List[apiv1.CapabilityRow]{Items: []apiv1.CapabilityRow{}}
	for i, id := range ids {
		m := ms[id]
		row := apiv1.CapabilityRow{NodeID: id, DomainID: domains[i], Status: "unknown", ReportedAt: store.Time(m.at)}
		version, sum := binaryOf(m.caps)
		row.BinaryVersion, row.BinaryChecksum = version, sum
		switch {
		case drifted[id] != "":
			row.Status = "drift"
		case len(sum) > 0:
			row.Status = "match"
		}
		for _, b := range m.caps.BuiltinActions {
			row.BuiltinActions = append(row.BuiltinActions, b.Name)
		}
		for _, h := range m.caps.Hooks {
			row.Hooks = append(row.Hooks, h.Name)
		}
		if in.Status != "" && row.Status != in.Status {
			continue
		}
		if len(out.Items) == limit {
			pos.ID = out.Items[limit-1].NodeID
			if out.NextCursor, err = s.cfg.Pages.Next(ctx, scope, pos); err != nil {
				return nil, err
			}
			break
		}
		out.Items = append(out.Items, row)
	}
	return &capabilitiesOutput{Body: out}, nil
}

// binaryOf is a manifest's binary version and its SHA-256 (from the
// contract's base64 member or the level-1 hex one).
func binaryOf(c nodeproto.Capabilities) (string, []byte) {
	version := c.BinaryVersion
	if version == "" && c.Binary != nil {
		version = c.Binary.Version
	}
	if sum, err := base64.StdEncoding.DecodeString(c.BinaryChecksum); err == nil && len(sum) == 32 {
		return version, sum
	}
	if c.Binary != nil {
		if sum, err := hex.DecodeString(c.Binary.Checksum); err == nil && len(sum) == 32 {
			return version, sum
		}
	}
	return version, nil
}

type hooksInput struct {
	DomainID         string `query:"domain_id" doc:"Only hooks of nodes in this Domain."`
	ProjectID        string `query:"project_id" doc:"Only hooks of nodes in this Project."`
	ImageDigestMatch string `query:"image_digest_match" enum:"true,false" doc:"Only matching (true) or mismatching (false) hooks."`
	page.Params
}

type hooksOutput struct {
	Body apiv1.List[apiv1.DiscoveredHook]
}

// hooks lists the hooks nodes declared, on the nodes the caller may read,
// ordered by node and hook name, a page at a time. A hook's digest
// matches when the node's manifest declares a checksum and no open hook
// violation of that hook exists on the node.
func (s *Service) hooks(ctx context.Context, in *hooksInput) (*hooksOutput, error) {
	if principal.From(ctx) == nil {
		return nil, problem.Unauthenticated()
	}
	if err := filterIDs(map[string]string{"invalid_domain_id": in.DomainID, CodeInvalidProjectID: in.ProjectID}); err != nil {
		return nil, err
	}
	scope := "hooks.list?domain_id=" + in.DomainID + "&project_id=" + in.ProjectID + "&match=" + in.ImageDigestMatch
	var pos struct {
		Node string `json:"n"`
		Hook string `json:"h"`
	}
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	out := apiv1.List[apiv1.DiscoveredHook]{Items: []apiv1.DiscoveredHook{}}
	after, inclusive := pos.Node, true
	for {
		ids, domains, err := s.hookNodes(ctx, in, after, inclusive)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return &hooksOutput{Body: out}, nil
		}
		after, inclusive = ids[len(ids)-1], false
		visible, err := s.visible(ctx, ids)
		if err != nil {
			return nil, err
		}
		ms, err := loadManifests(ctx, s.cfg.DB, ids)
		if err != nil {
			return nil, problem.Internal(err)
		}
		broken, err := openHookViolations(ctx, s.cfg.DB, ids)
		if err != nil {
			return nil, problem.Internal(err)
		}
		for i, id := range ids {
			if !visible[i] {
				continue
			}
			for _, h := range discovered(ms[id].caps) {
				if id == pos.Node && h.name <= pos.Hook {
					continue
				}
				match := h.valid && !broken[id+"\x00"+h.name]
				if in.ImageDigestMatch != "" && (in.ImageDigestMatch == "true") != match {
					continue
				}
				if len(out.Items) == limit {
					last := out.Items[limit-1]
					pos.Node, pos.Hook = last.NodeID, last.Name
					if out.NextCursor, err = s.cfg.Pages.Next(ctx, scope, pos); err != nil {
						return nil, err
					}
					return &hooksOutput{Body: out}, nil
				}
				out.Items = append(out.Items, apiv1.DiscoveredHook{NodeID: id, DomainID: domains[i], Name: h.name,
					ImageDigest: h.digest, ImageDigestMatch: match})
			}
		}
	}
}

// hookRow is a hook a node declared: a PlexdHook resource it discovered
// (the contract's plexd_hooks, an OCI image digest) or an executable hook
// of its own (hooks, a SHA-256 of the file, shown as sha256:<hex>).
type hookRow struct {
	name   string
	digest string
	valid  bool
}

// imageDigest is an OCI digest in canonical form.
var imageDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// discovered lists a manifest's hooks by name, each name once (a
// PlexdHook first).
func discovered(c nodeproto.Capabilities) []hookRow {
	var plexd []struct {
		Name        string `json:"name"`
		ImageDigest string `json:"image_digest"`
	}
	if len(c.PlexdHooks) > 0 {
		json.Unmarshal(c.PlexdHooks, &plexd)
	}
	seen := map[string]bool{}
	var out []hookRow
	for _, h := range plexd {
		if name := strings.TrimSpace(h.Name); name != "" && !seen[name] && len(out) < 256 {
			seen[name] = true
			out = append(out, hookRow{name: name, digest: h.ImageDigest, valid: imageDigest.MatchString(h.ImageDigest)})
		}
	}
	for _, h := range c.Hooks {
		if h.Name != "" && !seen[h.Name] && len(out) < 256 {
			seen[h.Name] = true
			out = append(out, hookRow{name: h.Name, digest: "sha256:" + h.Checksum, valid: nodeproto.ValidChecksum(h.Checksum)})
		}
	}
	slices.SortFunc(out, func(a, b hookRow) int { return strings.Compare(a.name, b.name) })
	return out
}

// hookNodes reads the next 500 live nodes with a manifest after the node
// id from, or from it on when inclusive (a page may end inside a node's
// hooks).
func (s *Service) hookNodes(ctx context.Context, in *hooksInput, from string, inclusive bool) (ids, domains []string, err error) {
	q := `SELECT n.id, n.domain_id FROM nodes n JOIN node_agents a ON a.node_id = n.id
		WHERE n.revoked_at IS NULL AND a.capabilities IS NOT NULL AND n.id >= $1`
	args := []any{from}
	if in.DomainID != "" {
		args = append(args, in.DomainID)
		q += ` AND n.domain_id = $` + itoa(len(args))
	}
	if in.ProjectID != "" {
		args = append(args, in.ProjectID)
		q += ` AND n.project_id = $` + itoa(len(args))
	}
	if !inclusive {
		q += ` AND n.id <> $1`
	}
	rows, err := s.cfg.DB.QueryContext(ctx, q+` ORDER BY n.id LIMIT 500`, args...)
	if err != nil {
		return nil, nil, problem.Internal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, d string
		if err := rows.Scan(&id, &d); err != nil {
			return nil, nil, problem.Internal(err)
		}
		ids, domains = append(ids, id), append(domains, d)
	}
	return ids, domains, problem.From(rows.Err())
}

// filterIDs refuses a filter that is set and not a UUID, with its code.
func filterIDs(ids map[string]string) error {
	for _, code := range slices.Sorted(maps.Keys(ids)) {
		if v := ids[code]; v != "" {
			if _, err := parseUUID(code, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// visible reports which nodes the caller may read.
func (s *Service) visible(ctx context.Context, ids []string) ([]bool, error) {
	objects := make([]string, len(ids))
	for i, id := range ids {
		objects[i] = "node:" + id
	}
	if v, ok := s.cfg.Authz.(Visibility); ok {
		out, err := v.Visible(ctx, "read", objects)
		if err != nil {
			return nil, problem.Unavailable("authz_unavailable", err)
		}
		return out, nil
	}
	out := make([]bool, len(ids))
	for i := range objects {
		out[i] = s.cfg.Authz.Check(ctx, "read", objects[i]) == nil
	}
	return out, nil
}

// openHookViolations are the (node, hook) pairs of ids with an open
// violation.
func openHookViolations(ctx context.Context, q store.Querier, ids []string) (map[string]bool, error) {
	ph, args := placeholders(ids)
	rows, err := q.QueryContext(ctx, `SELECT node_id, artifact_id FROM integrity_violations WHERE kind = 'hook' AND status = 'open'
		AND node_id IN (`+ph+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n, a string
		if err := rows.Scan(&n, &a); err != nil {
			return nil, err
		}
		out[n+"\x00"+a] = true
	}
	return out, rows.Err()
}

type violationsInput struct {
	DomainID  string `query:"domain_id" doc:"Only this Domain."`
	ProjectID string `query:"project_id" doc:"Only this Project."`
	NodeID    string `query:"node_id" doc:"Only this node."`
	Kind      string `query:"kind" enum:"binary,hook,host_key" doc:"Only this kind."`
	Status    string `query:"status" enum:"open,acknowledged,resolved" doc:"Only this status."`
	page.Params
}

type violationsOutput struct {
	Body apiv1.List[apiv1.IntegrityViolationRow]
}

const violationColumns = `id, node_id, domain_id, kind, status, artifact_id, expected_checksum, actual_checksum, detected_at,
	acknowledged_at, COALESCE(acknowledged_by, ''), COALESCE(acknowledge_reason, '')`

func scanViolation(row interface{ Scan(...any) error }) (apiv1.IntegrityViolationRow, error) {
	var v apiv1.IntegrityViolationRow
	var at int64
	var ack sql.NullInt64
	err := row.Scan(&v.ID, &v.NodeID, &v.DomainID, &v.Kind, &v.Status, &v.ArtifactID, &v.ExpectedChecksum, &v.ActualChecksum,
		&at, &ack, &v.AcknowledgedBySubject, &v.AcknowledgeReason)
	v.DetectedAt = store.Time(at)
	if ack.Valid {
		t := store.Time(ack.Int64)
		v.AcknowledgedAt = &t
	}
	return v, err
}

// violations lists the violations on nodes the caller may read, newest
// last, with cursor paging.
func (s *Service) violations(ctx context.Context, in *violationsInput) (*violationsOutput, error) {
	if principal.From(ctx) == nil {
		return nil, problem.Unauthenticated()
	}
	if err := filterIDs(map[string]string{"invalid_domain_id": in.DomainID, CodeInvalidProjectID: in.ProjectID,
		"invalid_node_id": in.NodeID}); err != nil {
		return nil, err
	}
	scope := "integrity.list?d=" + in.DomainID + "&p=" + in.ProjectID + "&n=" + in.NodeID + "&k=" + in.Kind + "&s=" + in.Status
	var pos struct {
		At int64  `json:"t"`
		ID string `json:"i"`
	}
	limit, err := s.cfg.Pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + violationColumns + ` FROM integrity_violations WHERE (detected_at > $1 OR (detected_at = $1 AND id > $2))`
	args := []any{pos.At, pos.ID}
	for _, f := range []struct{ col, v string }{{"domain_id", in.DomainID}, {"project_id", in.ProjectID}, {"node_id", in.NodeID},
		{"kind", in.Kind}, {"status", in.Status}} {
		if f.v != "" {
			args = append(args, f.v)
			q += ` AND ` + f.col + ` = $` + itoa(len(args))
		}
	}
	out := apiv1.List[apiv1.IntegrityViolationRow]{Items: []apiv1.IntegrityViolationRow{}}
	for {
		rows, err := s.cfg.DB.QueryContext(ctx, q+` ORDER BY detected_at, id LIMIT 500`, args...)
		if err != nil {
			return nil, problem.Internal(err)
		}
		var batch []apiv1.IntegrityViolationRow
		for rows.Next() {
			v, err := scanViolation(rows)
			if err != nil {
				rows.Close()
				return nil, problem.Internal(err)
			}
			batch = append(batch, v)
		}
		rows.Close()
		ids := make([]string, len(batch))
		for i, v := range batch {
			ids[i] = v.NodeID
		}
		vis, err := s.visible(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i, v := range batch {
			if !vis[i] {
				continue
			}
			if len(out.Items) == limit {
				last := out.Items[limit-1]
				pos.At, pos.ID = store.Micros(last.DetectedAt), last.ID
				if out.NextCursor, err = s.cfg.Pages.Next(ctx, scope, pos); err != nil {
					return nil, err
				}
				return &violationsOutput{Body: out}, nil
			}
			out.Items = append(out.Items, v)
		}
		if len(batch) < 500 {
			return &violationsOutput{Body: out}, nil
		}
		last := batch[len(batch)-1]
		args[0], args[1] = store.Micros(last.DetectedAt), last.ID
	}
}

type acknowledgeInput struct {
	ID   string `path:"id" doc:"The violation (UUID)."`
	Body apiv1.IntegrityViolationAcknowledgeRequest
}

type violationOutput struct {
	Body apiv1.IntegrityViolationRow
}

// acknowledge moves an open violation to acknowledged with the operator's
// reason (node-operate on the node; step-up; audited): the node is
// scheduled again once it has no open violation.
func (s *Service) acknowledge(ctx context.Context, in *acknowledgeInput) (*violationOutput, error) {
	id, err := parseUUID("invalid_integrity_violation_id", in.ID)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(in.Body.Reason)
	if reason == "" {
		return nil, problem.BadRequest("invalid_acknowledge_reason", "Give a reason: what was checked and why the change is expected.")
	}
	v, err := scanViolation(s.cfg.DB.QueryRowContext(ctx, `SELECT `+violationColumns+` FROM integrity_violations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound("integrity_violation_not_found", "No such integrity violation.")
	} else if err != nil {
		return nil, problem.Internal(err)
	}
	if err := s.cfg.Authz.Check(ctx, "node-operate", "node:"+v.NodeID); err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(v.DomainID, "integrity_violation", id)
	if v.Status != "open" {
		return nil, problem.Conflict("illegal_transition", "Only an open violation can be acknowledged; this one is "+v.Status+".")
	}
	who := principal.From(ctx).Ref()
	now := store.Micros(s.cfg.Now())
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE integrity_violations SET status = 'acknowledged', acknowledged_at = $2,
			acknowledged_by = $3, acknowledge_reason = $4 WHERE id = $1 AND status = 'open'`, id, now, who, audit.Clean(reason, 1024))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.Conflict("illegal_transition", "The violation is no longer open.")
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	v, err = scanViolation(s.cfg.DB.QueryRowContext(ctx, `SELECT `+violationColumns+` FROM integrity_violations WHERE id = $1`, id))
	if err != nil {
		return nil, problem.Internal(err)
	}
	return &violationOutput{Body: v}, nil
}
