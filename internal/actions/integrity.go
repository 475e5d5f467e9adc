package actions

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Bounds and codes of the contract's integrity-violation intake.
const (
	maxViolationsBody     = 32 << 10
	maxViolationsPerBatch = 128
	maxArtifactID         = 4096

	CodeViolationsMalformed     = "malformed_integrity_violations_request"
	CodeViolationsEmpty         = "integrity_violations_empty"
	CodeViolationsTooMany       = "integrity_violations_too_many"
	CodeViolationsTooLarge      = "integrity_violations_body_too_large"
	CodeViolationKindInvalid    = "integrity_violation_kind_invalid"
	CodeViolationDetectorBad    = "integrity_violation_detected_by_invalid"
	CodeViolationArtifactEmpty  = "integrity_violation_artifact_id_empty"
	CodeViolationArtifactLong   = "integrity_violation_artifact_id_too_long"
	CodeViolationChecksumBad    = "integrity_violation_checksum_invalid"
	CodeViolationKindMismatch   = "integrity_violation_kind_mismatch"
	CodeViolationFingerprintBad = "integrity_violation_host_key_fingerprint_invalid"
)

// Violation kinds as stored and listed, and as nodes report them.
const (
	kindBinary  = "binary"
	kindHook    = "hook"
	kindHostKey = "host_key"
)

var ingestKinds = map[string]string{
	"binary_checksum": kindBinary, "hook_checksum": kindHook, "ssh_host_key": kindHostKey,
	// The node protocol's (§12.5) names.
	nodeproto.IntegrityBinary: kindBinary, nodeproto.IntegrityHook: kindHook,
}

var detectors = map[string]bool{"startup_scan": true, "inotify": true, "pre_dispatch": true}

// violationRow is one violation to record.
type violationRow struct {
	kind, artifact, expected, actual, detail string
	at                                       time.Time
}

// NodePathParams is the reporting node of the path.
type NodePathParams struct {
	ID string `path:"id" doc:"The reporting node."`
}

type violationsBatchInput struct {
	NodePathParams
	RawBody []byte
}

type violationsBatchOutput struct {
	Body apiv1.IntegrityViolationsResponse
}

func (s *Service) registerIntegrity(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/nodes/{id}/integrity/violations", "postNodeIntegrityViolation",
		"node.integrity.report", route.Node, "Level 1: the node reports an integrity violation (§12.5)", "Nodes")
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = 8 << 10
	huma.Register(api, op, s.violation)
	op = route.Op(http.MethodPost, "/v1/nodes/{id}/integrity-violations", "PostNodeIntegrityViolations",
		"node.integrity.report", route.Node, "Record a batch of integrity violations the node found (1–128)", "Nodes")
	op.DefaultStatus = http.StatusAccepted
	op.MaxBodyBytes = maxViolationsBody + 1
	huma.Register(api, op, s.violationsBatch)
}

// violation records one level-1 IntegrityViolation (§12.5).
func (s *Service) violation(ctx context.Context, in *violationsBatchInput) (*struct{}, error) {
	domainID, projectID, err := s.reportingNode(ctx, in.ID, "node_id_mismatch")
	if err != nil {
		return nil, err
	}
	var v nodeproto.IntegrityViolation
	if err := json.Unmarshal(in.RawBody, &v); err != nil || (v.Type != nodeproto.IntegrityBinary && v.Type != nodeproto.IntegrityHook) {
		return nil, problem.BadRequest(CodeInvalidBody, "The body must be an IntegrityViolation of type binary or hook.")
	}
	artifact := clean(v.Path)
	if artifact == "" {
		artifact = v.Type
	}
	at := v.Timestamp
	if at.IsZero() || at.After(s.cfg.Now().Add(time.Minute)) {
		at = s.cfg.Now()
	}
	row := violationRow{kind: ingestKinds[v.Type], artifact: artifact, expected: checksumText(v.ExpectedChecksum),
		actual: checksumText(v.ActualChecksum), detail: clean(v.Detail), at: at}
	return nil, s.recordViolations(ctx, in.ID, domainID, projectID, []violationRow{row})
}

// violationsBatch records the contract's IntegrityViolationsRequest: the
// whole batch or nothing.
func (s *Service) violationsBatch(ctx context.Context, in *violationsBatchInput) (*violationsBatchOutput, error) {
	domainID, projectID, err := s.reportingNode(ctx, in.ID, "node_id_mismatch")
	if err != nil {
		return nil, err
	}
	rows, err := decodeViolations(in.RawBody, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	if err := s.recordViolations(ctx, in.ID, domainID, projectID, rows); err != nil {
		return nil, err
	}
	return &violationsBatchOutput{Body: apiv1.IntegrityViolationsResponse{AcceptedAt: s.cfg.Now().UTC(),
		ViolationCount: len(rows)}}, nil
}

// reportingNode checks that the caller is the node of the path and returns
// its Domain and Project.
func (s *Service) reportingNode(ctx context.Context, nodeID, mismatch string) (domainID, projectID string, err error) {
	if !nodeproto.ValidID(nodeID) {
		return "", "", problem.BadRequest("invalid_node_id", "The node id is not valid.")
	}
	if s.cfg.Caller != nil {
		if caller, ok := s.cfg.Caller(ctx); !ok || caller != nodeID {
			return "", "", problem.New(http.StatusForbidden, mismatch, "The credential belongs to another node.")
		}
	}
	if err := s.cfg.DB.QueryRowContext(ctx, `SELECT domain_id, project_id FROM nodes WHERE id = $1`, nodeID).
		Scan(&domainID, &projectID); err != nil {
		return "", "", problem.NotFound("node_not_found", "No such node.")
	}
	return domainID, projectID, nil
}

// wireViolation is one entry of the contract's batch.
type wireViolation struct {
	Kind                string `json:"kind"`
	DetectedBy          string `json:"detected_by"`
	ArtifactID          string `json:"artifact_id"`
	ObservedChecksum    string `json:"observed_checksum,omitempty"`
	ExpectedChecksum    string `json:"expected_checksum,omitempty"`
	ObservedFingerprint string `json:"observed_fingerprint,omitempty"`
	ExpectedFingerprint string `json:"expected_fingerprint,omitempty"`
}

// decodeViolations checks a batch body entry by entry; the first broken
// rule refuses the whole batch with its code (and the entry's index).
func decodeViolations(body []byte, now time.Time) ([]violationRow, error) {
	if len(body) > maxViolationsBody {
		return nil, problem.Newf(http.StatusRequestEntityTooLarge, CodeViolationsTooLarge,
			"An integrity-violations batch is at most %d bytes.", maxViolationsBody)
	}
	var req struct {
		Violations []wireViolation `json:"violations"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return nil, problem.BadRequest(CodeViolationsMalformed, "The body must be {\"violations\": [...]} with the contract's fields only.")
	}
	switch {
	case len(req.Violations) == 0:
		return nil, problem.BadRequest(CodeViolationsEmpty, "The violations array is empty.")
	case len(req.Violations) > maxViolationsPerBatch:
		return nil, problem.BadRequest(CodeViolationsTooMany, "A batch carries at most "+strconv.Itoa(maxViolationsPerBatch)+
			" violations, this one "+strconv.Itoa(len(req.Violations))+".")
	}
	out := make([]violationRow, 0, len(req.Violations))
	for i, v := range req.Violations {
		row, code, msg := checkViolation(v)
		if code != "" {
			return nil, problem.BadRequest(code, "violations["+strconv.Itoa(i)+"]: "+msg)
		}
		row.at = now
		out = append(out, row)
	}
	return out, nil
}

// checkViolation applies the contract's per-entry rules.
func checkViolation(v wireViolation) (violationRow, string, string) {
	kind, ok := ingestKinds[v.Kind]
	if !ok || v.Kind == nodeproto.IntegrityBinary || v.Kind == nodeproto.IntegrityHook {
		return violationRow{}, CodeViolationKindInvalid, "kind must be binary_checksum, hook_checksum or ssh_host_key."
	}
	if !detectors[v.DetectedBy] {
		return violationRow{}, CodeViolationDetectorBad, "detected_by must be startup_scan, inotify or pre_dispatch."
	}
	artifact := strings.TrimSpace(v.ArtifactID)
	switch {
	case artifact == "":
		return violationRow{}, CodeViolationArtifactEmpty, "artifact_id is empty."
	case len(artifact) > maxArtifactID:
		return violationRow{}, CodeViolationArtifactLong, "artifact_id is longer than 4096 bytes."
	}
	row := violationRow{kind: kind, artifact: clean(artifact), detail: "detected by " + v.DetectedBy}
	if kind == kindHostKey {
		if v.ObservedChecksum != "" || v.ExpectedChecksum != "" {
			return violationRow{}, CodeViolationKindMismatch, "ssh_host_key carries fingerprints, not checksums."
		}
		if !nodeproto.ValidHostKeyFingerprint(v.ObservedFingerprint) ||
			v.ExpectedFingerprint != "" && !nodeproto.ValidHostKeyFingerprint(v.ExpectedFingerprint) {
			return violationRow{}, CodeViolationFingerprintBad, "fingerprints must be SHA256:<base64>, observed_fingerprint is required."
		}
		row.actual, row.expected = v.ObservedFingerprint, v.ExpectedFingerprint
		return row, "", ""
	}
	if v.ObservedFingerprint != "" || v.ExpectedFingerprint != "" {
		return violationRow{}, CodeViolationKindMismatch, v.Kind + " carries checksums, not fingerprints."
	}
	actual, ok := sha256Hex(v.ObservedChecksum)
	expected, okExpected := sha256Hex(v.ExpectedChecksum)
	if !ok || v.ExpectedChecksum != "" && !okExpected {
		return violationRow{}, CodeViolationChecksumBad, "checksums are 32 bytes in standard base64; observed_checksum is required."
	}
	row.actual, row.expected = actual, expected
	return row, "", ""
}

// sha256Hex turns a base64 SHA-256 into hex.
func sha256Hex(b64 string) (string, bool) {
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != 32 {
		return "", false
	}
	return hex.EncodeToString(sum), true
}

// checksumText keeps a reported checksum only in its hex form.
func checksumText(s string) string {
	if nodeproto.ValidChecksum(s) {
		return s
	}
	return ""
}

// recordViolations stores open violations of a node in one transaction,
// audited in the node's Domain chain; the node counts as drifted until
// every one is acknowledged.
func (s *Service) recordViolations(ctx context.Context, nodeID, domainID, projectID string, rows []violationRow) error {
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		for _, v := range rows {
			id := uuid.Must(uuid.NewV7()).String()
			if _, err := tx.ExecContext(ctx, `INSERT INTO integrity_violations (id, node_id, domain_id, project_id, kind, status,
				artifact_id, expected_checksum, actual_checksum, detail, detected_at) VALUES ($1,$2,$3,$4,$5,'open',$6,$7,$8,$9,$10)`,
				id, nodeID, domainID, projectID, v.kind, v.artifact, v.expected, v.actual, v.detail, store.Micros(v.at)); err != nil {
				return err
			}
			if len(rows) == 1 {
				audit.RequestFrom(ctx).Target(domainID, "integrity_violation", id)
			}
		}
		if len(rows) > 1 {
			audit.RequestFrom(ctx).Target(domainID, "node", nodeID)
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	return problem.From(err)
}
