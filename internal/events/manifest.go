package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"sort"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Problem codes of the contract's capability manifest and ingest checks.
const (
	CodeBinaryChecksumInvalid = "binary_checksum_invalid"          // 400
	CodeHostKeyInvalid        = "ssh_host_key_fingerprint_invalid" // 400
	CodeSentAtInvalid         = "ingest_sent_at_invalid"           // 400
)

// checkManifest refuses the contract's manifest members when present and
// malformed, with the contract's codes; a level-1 manifest has none.
func checkManifest(c nodeproto.Capabilities) error {
	if c.BinaryChecksum != "" {
		if sum, err := base64.StdEncoding.DecodeString(c.BinaryChecksum); err != nil || len(sum) != sha256.Size {
			return problem.BadRequest(CodeBinaryChecksumInvalid, "binary_checksum is not a base64 SHA-256 digest.")
		}
	}
	if c.SSHHostKeyFingerprint != "" && !nodeproto.ValidHostKeyFingerprint(c.SSHHostKeyFingerprint) {
		return problem.BadRequest(CodeHostKeyInvalid, "ssh_host_key_fingerprint is not SHA256:<base64>.")
	}
	return nil
}

type capabilitiesOutput struct {
	Body nodeproto.CapabilitiesResponse
}

type ingestOutput struct {
	Body nodeproto.IngestReceipt
}

// capabilities replaces the stored manifest (§5.2) and answers, in the
// contract's form, which manifest fields changed against the stored one.
// Both the level-1 manifest and the contract's are accepted.
func (a *agent) capabilities(ctx context.Context, in *bodyInput) (*capabilitiesOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	body, err := jsonBody(in.RawBody)
	if err != nil {
		return nil, err
	}
	var c nodeproto.Capabilities
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not a capability manifest.")
	}
	if err := checkManifest(c); err != nil {
		return nil, err
	}
	doc, _ := json.Marshal(c)
	accepted := a.s.cfg.Now().UTC().Truncate(time.Microsecond)
	out := &capabilitiesOutput{Body: nodeproto.CapabilitiesResponse{AcceptedAt: accepted}}
	err = a.s.db.Tx(ctx, func(tx *sql.Tx) error {
		var prev sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT capabilities FROM node_agents WHERE node_id = $1`+a.s.db.ForUpdate(), in.ID).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var old nodeproto.Capabilities
		if prev.Valid {
			_ = json.Unmarshal([]byte(prev.String), &old) // an unreadable old manifest counts as empty
		}
		out.Body.FieldsChanged, out.Body.HostKeyChanged = manifestChanges(old, c)
		_, err = tx.ExecContext(ctx, `INSERT INTO node_agents (node_id, capabilities, capabilities_at) VALUES ($1, $2, $3)
			ON CONFLICT (node_id) DO UPDATE SET capabilities = $2, capabilities_at = $3`, in.ID, string(doc), store.Micros(accepted))
		return err
	})
	if err != nil {
		return nil, unavailableNode(err)
	}
	return out, nil
}

// manifestChanges lists, sorted, the contract's manifest fields that
// differ between old and cur, and whether the host key changed. A level-1
// manifest's binary version and checksum count as binary_version and
// binary_checksum.
func manifestChanges(old, cur nodeproto.Capabilities) ([]string, bool) {
	changed := []string{}
	diff := func(name string, a, b string) {
		if a != b {
			changed = append(changed, name)
		}
	}
	oldV, oldSum := binaryOf(old)
	curV, curSum := binaryOf(cur)
	diff("binary_version", oldV, curV)
	diff("binary_checksum", oldSum, curSum)
	diff("ssh_host_key_fingerprint", old.SSHHostKeyFingerprint, cur.SSHHostKeyFingerprint)
	diff("declared_hooks", compactJSON(old.DeclaredHooks), compactJSON(cur.DeclaredHooks))
	diff("plexd_hooks", compactJSON(old.PlexdHooks), compactJSON(cur.PlexdHooks))
	sort.Strings(changed)
	return changed, old.SSHHostKeyFingerprint != cur.SSHHostKeyFingerprint
}

// binaryOf returns the manifest's binary version and checksum, from the
// contract's members or else the level-1 binary object.
func binaryOf(c nodeproto.Capabilities) (version, checksum string) {
	version, checksum = c.BinaryVersion, c.BinaryChecksum
	if c.Binary != nil {
		if version == "" {
			version = c.Binary.Version
		}
		if checksum == "" {
			checksum = c.Binary.Checksum
		}
	}
	return version, checksum
}

// compactJSON renders raw without insignificant space; null and absent
// are the same.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.String() == "null" {
		return ""
	}
	return b.String()
}

// ingest checks a telemetry batch's shape, hands it to the Ingester
// (when configured) and answers 202 with the contract's receipt.
// ingestInput is a telemetry batch request: bodyInput and the contract's
// send stamp (huma fills no embedded struct, so the fields are repeated).
type ingestInput struct {
	ID          string `path:"id" doc:"The node id."`
	Protocol    string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3)."`
	ContentType string `header:"Content-Type" doc:"application/json, or application/x-ndjson for logs and audit."`
	SentAt      string `header:"X-Plexsphere-Sent-At" doc:"RFC 3339 time the batch was sent (the contract's clients send it)."`
	Idempotency string `header:"Idempotency-Key" maxLength:"128" doc:"Ours: the batch's key; a resend with the same key is not stored twice."`
	RawBody     []byte
}

func (a *agent) ingest(ctx context.Context, kind string, in *ingestInput) (*ingestOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	// The contract's clients stamp the batch; the existing agent does not,
	// so only a present, unparsable stamp is refused.
	var sentAt time.Time
	if in.SentAt != "" {
		var err error
		if sentAt, err = time.Parse(time.RFC3339, in.SentAt); err != nil {
			return nil, problem.BadRequest(CodeSentAtInvalid, "X-Plexsphere-Sent-At is not an RFC 3339 time.")
		}
	}
	n, err := decodeIngest(in.ContentType, in.RawBody)
	if err != nil {
		return nil, err
	}
	if a.opts.Ingest != nil {
		if n, err = a.opts.Ingest.Ingest(ctx, IngestBatch{NodeID: in.ID, Kind: kind, ContentType: in.ContentType,
			IdempotencyKey: in.Idempotency, SentAt: sentAt, Body: in.RawBody}); err != nil {
			return nil, agentError(err)
		}
	}
	return &ingestOutput{Body: nodeproto.IngestReceipt{AcceptedAt: a.s.cfg.Now().UTC().Truncate(time.Microsecond), Records: n}}, nil
}

// decodeIngest accepts a telemetry batch body and counts its records: a
// JSON array or null (§12.7, J4), or, as the contract sends logs and audit
// events, NDJSON (one JSON object a line, blank lines skipped) when the
// content type says application/x-ndjson. Anything else is 400.
func decodeIngest(contentType string, raw []byte) (int, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-ndjson" {
		return decodeNDJSON(raw)
	}
	body, err := jsonBody(raw)
	if err != nil {
		return 0, err
	}
	t := bytes.TrimSpace(body)
	if bytes.Equal(t, []byte("null")) {
		return 0, nil
	}
	var items []json.RawMessage
	if len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &items) != nil {
		return 0, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body must be a JSON array.")
	}
	return len(items), nil
}

// decodeNDJSON counts the non-blank lines of an NDJSON body, each of which
// must be a JSON object.
func decodeNDJSON(raw []byte) (int, error) {
	n := 0
	for line := range bytes.SplitSeq(raw, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' || !json.Valid(line) {
			return 0, problem.BadRequest(nodeproto.CodeInvalidRequest, "Each NDJSON line must be a JSON object.")
		}
		n++
	}
	return n, nil
}
