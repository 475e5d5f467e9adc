package access

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// CallerFunc names the node whose NSK authenticated the request.
type CallerFunc func(ctx context.Context) (string, bool)

// maxActivityBody bounds an activity callback.
const maxActivityBody = 8 << 10

type NodeSessionParams struct {
	ID        string `path:"id" doc:"The node id."`
	SessionID string `path:"session_id" doc:"The session id."`
}

type activityInput struct {
	NodeSessionParams
	RawBody []byte
}

type recordingUpload struct {
	NodeSessionParams
	Offset  int64  `header:"X-Plexsphere-Recording-Offset" doc:"Byte offset of this chunk in the recording."`
	Final   string `header:"X-Plexsphere-Recording-Final" doc:"1 on the last chunk."`
	RawBody []byte
}

func (s *Service) registerNode(api huma.API) {
	op := route.Op(http.MethodPost, "/v1/nodes/{id}/sessions/{session_id}", "PostNodeSessionCallback", "node.session.activity",
		route.Node, "A node reports a session's activity: exactly one of ssh, k8s, tcp", "Nodes")
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = maxActivityBody
	op.SkipValidateBody = true
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(reflectActivity, true, "")}}}
	huma.Register(api, op, s.activity)
	op = route.Op(http.MethodPost, "/v1/nodes/{id}/sessions/{session_id}/recording", "postNodeSessionRecording",
		"node.session.recording", route.Node, "Ours: a chunk of an ssh session's asciicast v2 recording", "Nodes")
	op.DefaultStatus = http.StatusNoContent
	op.MaxBodyBytes = nodeproto.MaxRecordingChunk
	op.RequestBody = &huma.RequestBody{Content: map[string]*huma.MediaType{
		"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}
	huma.Register(api, op, s.uploadRecording)
	// The last chunk may be empty: huma requires a RawBody unless told.
	if item := api.OpenAPI().Paths[op.Path]; item != nil && item.Post != nil && item.Post.RequestBody != nil {
		item.Post.RequestBody.Required = false
	}
}

// nodeSession checks the caller and loads the node's session. Unknown
// sessions are 404 session_not_found.
func (s *Service) nodeSession(ctx context.Context, in NodeSessionParams) (sessionRow, error) {
	if !nodeproto.ValidID(in.ID) {
		return sessionRow{}, problem.BadRequest("invalid_node_id", "The node id is not valid.")
	}
	if s.cfg.Caller != nil {
		if caller, ok := s.cfg.Caller(ctx); !ok || caller != in.ID {
			return sessionRow{}, problem.New(http.StatusForbidden, "nsk_node_mismatch", "The credential belongs to another node.")
		}
	}
	r, err := s.load(ctx, s.cfg.DB, `s.id = $1 AND s.node_id = $2`, in.SessionID, in.ID)
	if errors.Is(err, errNoSession) {
		return r, problem.NotFound(CodeSessionNotFound, "No session of this node has that id.")
	}
	if err == nil {
		audit.RequestFrom(ctx).Target(r.DomainID, "session", r.ID)
	}
	return r, err
}

// activity records one report: appended to the session's activity,
// last_active_at moved, and audited as connect, command, k8s call or
// disconnect. The end of a connection is accepted after revocation or
// expiry (it is how the chain learns the node hung up); anything else on
// an ended session is 409.
func (s *Service) activity(ctx context.Context, in *activityInput) (*struct{}, error) {
	r, err := s.nodeSession(ctx, in.NodeSessionParams)
	if err != nil {
		return nil, err
	}
	a, err := decodeActivity(in.RawBody)
	if err != nil {
		return nil, err
	}
	kind, action, reason := describe(a)
	if kind != r.Kind {
		return nil, problem.BadRequest(CodeInvalidBody, "The activity is not of the session's kind ("+r.Kind+").")
	}
	now := s.cfg.Now()
	if action != "session.disconnect" && !r.live(now) {
		if r.Status == statusRevoked {
			return nil, problem.Conflict(CodeSessionRevoked, "The session was revoked.")
		}
		return nil, problem.Conflict(CodeSessionExpired, "The session has expired.")
	}
	body, _ := json.Marshal(a)
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO access_activity (session_id, seq, kind, body, received_at)
			SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM access_activity WHERE session_id = $1`,
			r.ID, kind, string(body), store.Micros(now)); err != nil {
			return err
		}
		set := `last_active_at = $1`
		switch action {
		case "session.connect":
			set += `, connected_at = COALESCE(connected_at, $1)`
		case "session.disconnect":
			set += `, disconnected_at = $1`
			// The connection's duration, from the node's own start report.
			var at sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT connected_at FROM access_sessions WHERE id = $1`, r.ID).Scan(&at); err != nil {
				return err
			}
			if at.Valid {
				reason += fmt.Sprintf(" duration_ms=%d", (store.Micros(now)-at.Int64)/1000)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_sessions SET `+set+` WHERE id = $2`, store.Micros(now), r.ID); err != nil {
			return err
		}
		_, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: r.DomainID, Action: action, Outcome: audit.Succeeded,
			Reason: reason, IdentityRef: "node:" + r.NodeID, ObjectType: "session", ObjectID: r.ID,
			CorrelationID: audit.RequestFrom(ctx).CorrelationID})
		return err
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return nil, nil
}

// decodeActivity reads and checks a callback body: one JSON object with
// exactly one bounded member.
func decodeActivity(raw []byte) (nodeproto.SessionActivity, error) {
	var a nodeproto.SessionActivity
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, problem.BadRequest(CodeInvalidBody, "The body must be {\"ssh\"|\"k8s\"|\"tcp\": {…}}.")
	}
	if err := a.Validate(); err != nil {
		return a, problem.BadRequest(CodeInvalidBody, err.Error())
	}
	return a, nil
}

// describe names an activity's kind, its audit action and the detail kept
// in the entry's reason.
func describe(a nodeproto.SessionActivity) (kind, action, reason string) {
	switch {
	case a.SSH != nil:
		switch a.SSH.Phase {
		case nodeproto.PhaseStarted:
			return nodeproto.SessionSSH, "session.connect", "ssh"
		case nodeproto.PhaseEnded:
			return nodeproto.SessionSSH, "session.disconnect", "terminated_by=" + a.SSH.TerminatedBy
		}
		reason = "command=" + strconv.Quote(a.SSH.Command)
		if a.SSH.ExitCode != nil {
			reason += " exit_code=" + strconv.Itoa(*a.SSH.ExitCode)
		}
		return nodeproto.SessionSSH, "session.command", reason
	case a.K8s != nil:
		return nodeproto.SessionK8s, "session.k8s_call", fmt.Sprintf("verb=%q resource=%q namespace=%q name=%q status=%d",
			a.K8s.Verb, a.K8s.ResourceKind, a.K8s.Namespace, a.K8s.Name, a.K8s.StatusCode)
	default:
		if a.TCP.Phase == nodeproto.PhaseStarted {
			return nodeproto.SessionTCP, "session.connect", "tcp"
		}
		return nodeproto.SessionTCP, "session.disconnect", fmt.Sprintf("terminated_by=%s bytes_in=%d bytes_out=%d",
			a.TCP.TerminatedBy, a.TCP.BytesIn, a.TCP.BytesOut)
	}
}

// uploadRecording appends a chunk at its offset. A chunk already stored
// (a retry) is accepted again; a gap is 409 with the expected offset in
// X-Plexsphere-Recording-Offset. Past RecordingMax the recording is cut
// and marked truncated. The final chunk seals it: its size and SHA-256 go
// into the audit entry session.recording.
func (s *Service) uploadRecording(ctx context.Context, in *recordingUpload) (*struct{}, error) {
	r, err := s.nodeSession(ctx, in.NodeSessionParams)
	if err != nil {
		return nil, err
	}
	if r.Kind != nodeproto.SessionSSH {
		return nil, problem.BadRequest(CodeInvalidBody, "Only ssh sessions are recorded.")
	}
	if in.Offset < 0 {
		return nil, problem.BadRequest(CodeInvalidBody, "The offset must be 0 or more.")
	}
	final := in.Final == "1" || in.Final == "true"
	now := s.cfg.Now()
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var size int64
		var sealed, truncated bool
		err := tx.QueryRowContext(ctx, `SELECT size, final, truncated FROM access_recordings WHERE session_id = $1`, r.ID).
			Scan(&size, &sealed, &truncated)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err = tx.ExecContext(ctx, `INSERT INTO access_recordings (session_id, size, updated_at) VALUES ($1, 0, $2)`,
				r.ID, store.Micros(now)); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		switch {
		case sealed || in.Offset+int64(len(in.RawBody)) <= size && !final:
			return nil // a retry of what is stored
		case in.Offset != size && !(in.Offset < size && in.Offset+int64(len(in.RawBody)) <= size):
			return problem.Conflict(CodeRecordingOffset, "The recording continues at another offset.").
				WithHeader(nodeproto.HeaderRecordingOffset, strconv.FormatInt(size, 10))
		}
		chunk := in.RawBody
		if in.Offset < size {
			chunk = nil // the final marker of a chunk already stored
		}
		if room := s.cfg.RecordingMax - size; int64(len(chunk)) > room {
			chunk, truncated = chunk[:max(room, 0)], true
		}
		if len(chunk) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO access_recording_chunks (session_id, byte_offset, data) VALUES ($1, $2, $3)`,
				r.ID, size, chunk); err != nil {
				return err
			}
			size += int64(len(chunk))
		}
		sum := ""
		if final {
			if sum, err = s.recordingHash(ctx, tx, r.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_recordings SET size = $1, final = $2, truncated = $3, sha256 = $4,
			updated_at = $5 WHERE session_id = $6`, size, final, truncated, sum, store.Micros(now), r.ID); err != nil {
			return err
		}
		if !final {
			return nil
		}
		_, err = s.cfg.Audit.Append(ctx, tx, audit.Entry{ChainID: r.DomainID, Action: "session.recording", Outcome: audit.Succeeded,
			Reason:      fmt.Sprintf("sha256=%s size=%d truncated=%t", sum, size, truncated),
			IdentityRef: "node:" + r.NodeID, ObjectType: "session", ObjectID: r.ID})
		return err
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return nil, nil
}

// recordingHash is the hex SHA-256 of a stored recording.
func (s *Service) recordingHash(ctx context.Context, q store.Querier, sessionID string) (string, error) {
	h := sha256.New()
	err := s.chunks(ctx, q, sessionID, func(b []byte) error { h.Write(b); return nil })
	return hex.EncodeToString(h.Sum(nil)), err
}

// chunks streams a recording's chunks in order.
func (s *Service) chunks(ctx context.Context, q store.Querier, sessionID string, fn func([]byte) error) error {
	rows, err := q.QueryContext(ctx, `SELECT data FROM access_recording_chunks WHERE session_id = $1 ORDER BY byte_offset`, sessionID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

type recordingOutput struct {
	ContentType  string `header:"Content-Type"`
	Digest       string `header:"X-Plexsphere-Recording-SHA256"`
	Truncated    string `header:"X-Plexsphere-Recording-Truncated"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

// recording serves an ssh session's recording to readers of the Project
// (project#observe); every read is audited.
func (s *Service) recording(ctx context.Context, in *SessionParams) (*recordingOutput, error) {
	r, err := s.readableSession(ctx, in)
	if err != nil {
		return nil, err
	}
	sid := r.ID
	audit.RequestFrom(ctx).Target(r.DomainID, "session", r.ID)
	var size int64
	var truncated bool
	var sum string
	err = s.cfg.DB.QueryRowContext(ctx, `SELECT size, truncated, sha256 FROM access_recordings WHERE session_id = $1`, sid).
		Scan(&size, &truncated, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound(CodeRecordingNotFound, "This session has no recording.")
	} else if err != nil {
		return nil, problem.Internal(err)
	}
	out := &recordingOutput{ContentType: "application/x-asciicast", Digest: sum, CacheControl: "no-store",
		Truncated: strconv.FormatBool(truncated), Body: make([]byte, 0, size)}
	if err := s.chunks(ctx, s.cfg.DB, sid, func(b []byte) error { out.Body = append(out.Body, b...); return nil }); err != nil {
		return nil, problem.Internal(err)
	}
	if err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error { return s.cfg.Audit.Commit(ctx, tx) }); err != nil {
		return nil, err
	}
	return out, nil
}

var reflectActivity = reflect.TypeFor[nodeproto.SessionActivity]()
