package logs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Record bounds.
const (
	MaxMessageBytes = 64 << 10
	MaxFieldBytes   = 256
	insertChunk     = 50
	cols            = 12
)

// Severities are the LogLine severities (syslog names, §12.7 and the
// contract's LogLineSeverity).
var Severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// logRecord is a §12.7 LogEntry or a contract LogLine (a superset).
type logRecord struct {
	Timestamp time.Time `json:"timestamp"`
	Source    string    `json:"source"`
	Unit      string    `json:"unit"`
	Message   string    `json:"message"`
	Severity  string    `json:"severity"`
	Hostname  string    `json:"hostname"`
}

// auditRecord is a §12.7 AuditEntry or a contract AuditEvent (outcome, or
// the level-1 result).
type auditRecord struct {
	Timestamp time.Time `json:"timestamp"`
	Source    string    `json:"source"`
	EventType string    `json:"event_type"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	Result    string    `json:"result"`
	Hostname  string    `json:"hostname"`
}

// row is one validated record ready to store.
type row struct {
	ts                                 int64
	source, unit, severity, host, line string
	action, outcome                    string
	// key is the record's content hash (a resend is not stored twice).
	key string
}

// recKey is the hash of a record's compact JSON.
func recKey(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:16])
}

// splitRecords returns the raw records of a batch: a JSON array (or null),
// or NDJSON lines when the content type says so.
func splitRecords(contentType string, body []byte) ([]json.RawMessage, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-ndjson" {
		var out []json.RawMessage
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				out = append(out, json.RawMessage(line))
			}
		}
		return out, nil
	}
	t := bytes.TrimSpace(body)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(t, &out); err != nil {
		return nil, problem.BadRequest("invalid_request", "The body must be a JSON array.")
	}
	return out, nil
}

func countRecords(contentType string, body []byte) int {
	r, _ := splitRecords(contentType, body)
	return len(r)
}

// validText reports a non-empty (when required), bounded UTF-8 string.
func validText(s string, limit int, required bool) bool {
	return (!required || strings.TrimSpace(s) != "") && len(s) <= limit && utf8.ValidString(s)
}

// validTime reports a timestamp that unix nanoseconds hold (1970–2200).
func validTime(t time.Time) bool {
	return !t.IsZero() && t.Year() >= 1970 && t.Year() < 2200
}

// parseLog validates one log record.
func parseLog(raw json.RawMessage) (row, bool) {
	var r logRecord
	if json.Unmarshal(raw, &r) != nil || !validTime(r.Timestamp) || !validText(r.Message, MaxMessageBytes, true) ||
		!slices.Contains(Severities, r.Severity) || !validText(r.Unit, MaxFieldBytes, false) ||
		!validText(r.Hostname, MaxFieldBytes, false) || !validText(r.Source, MaxFieldBytes, false) {
		return row{}, false
	}
	if r.Source == "" {
		r.Source = "journald"
	}
	return row{ts: r.Timestamp.UnixNano(), source: r.Source, unit: r.Unit, severity: r.Severity, host: r.Hostname,
		line: r.Message}, true
}

// parseAudit validates one audit record; its line is the record's compact
// JSON as sent.
func parseAudit(raw json.RawMessage) (row, bool) {
	var r auditRecord
	if json.Unmarshal(raw, &r) != nil || !validTime(r.Timestamp) {
		return row{}, false
	}
	if r.Outcome == "" {
		r.Outcome = r.Result
	}
	if r.Action == "" {
		r.Action = r.EventType
	}
	if !validText(r.Source, 64, true) || !validText(r.Action, MaxFieldBytes, true) ||
		!validText(r.Outcome, MaxFieldBytes, true) || !validText(r.Hostname, MaxFieldBytes, false) {
		return row{}, false
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.Len() > MaxMessageBytes || !utf8.Valid(b.Bytes()) {
		return row{}, false
	}
	return row{ts: r.Timestamp.UnixNano(), source: r.Source, host: r.Hostname, line: b.String(),
		action: r.Action, outcome: r.Outcome}, true
}

// store validates and stores a batch once.
func (s *Service) store(ctx context.Context, b events.IngestBatch) (int, error) {
	raws, err := splitRecords(b.ContentType, b.Body)
	if err != nil {
		return 0, err
	}
	if len(raws) > s.cfg.MaxBatchRecords {
		return 0, problem.New(http.StatusRequestEntityTooLarge, CodeBatchTooLarge,
			"The batch has more than "+strconv.Itoa(s.cfg.MaxBatchRecords)+" records; split it.")
	}
	parse, stream := parseLog, StreamLogs
	if b.Kind == "audit" {
		parse, stream = parseAudit, StreamAudit
	}
	rows := make([]row, 0, len(raws))
	for _, raw := range raws {
		if r, ok := parse(raw); ok {
			r.key = recKey(raw)
			rows = append(rows, r)
		}
	}
	if bad := len(raws) - len(rows); bad > 0 {
		s.cfg.Logger.DebugContext(ctx, "node logs: records rejected", "node_id", b.NodeID, "kind", b.Kind, "rejected", bad)
	}
	key := "k:" + b.IdempotencyKey
	if b.IdempotencyKey == "" {
		sum := sha256.Sum256(b.Body)
		key = "h:" + hex.EncodeToString(sum[:])
	}
	var domainID, projectID string
	err = s.cfg.DB.QueryRowContext(ctx, `SELECT domain_id, project_id FROM nodes WHERE id = $1`, b.NodeID).
		Scan(&domainID, &projectID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, problem.NotFound(CodeNodeNotFound, "The node does not exist.")
	}
	if err != nil {
		return 0, problem.Unavailable(CodeUnavailable, err)
	}
	now := s.cfg.Now()
	fresh := false
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		fresh = false
		res, err := tx.ExecContext(ctx, `INSERT INTO node_log_batches (node_id, kind, batch_key, received_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, b.NodeID, b.Kind, key, store.Micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || len(rows) == 0 {
			return nil // a resend: stored already
		}
		var last int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO node_log_heads (domain_id, stream, last_seq) VALUES ($1, $2, $3)
			ON CONFLICT (domain_id, stream) DO UPDATE SET last_seq = node_log_heads.last_seq + $3
			RETURNING last_seq`, domainID, stream, int64(len(rows))).Scan(&last); err != nil {
			return err
		}
		seq := last - int64(len(rows))
		fresh = true
		for chunk := range slices.Chunk(rows, insertChunk) {
			var q strings.Builder
			args := make([]any, 0, len(chunk)*cols)
			if b.Kind == "audit" {
				q.WriteString(`INSERT INTO node_audit_events (domain_id, seq, node_id, project_id, ts, source, action, outcome,
					hostname, line, received_at, rec_key) VALUES `)
			} else {
				q.WriteString(`INSERT INTO node_log_lines (domain_id, seq, node_id, project_id, ts, source, unit, severity,
					hostname, line, received_at, rec_key) VALUES `)
			}
			for i, r := range chunk {
				seq++
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(")
				for j := range cols {
					if j > 0 {
						q.WriteString(", ")
					}
					q.WriteString("$" + strconv.Itoa(len(args)+j+1))
				}
				q.WriteString(")")
				c1, c2 := r.unit, r.severity
				if b.Kind == "audit" {
					c1, c2 = r.action, r.outcome
				}
				args = append(args, domainID, seq, b.NodeID, projectID, r.ts, r.source, c1, c2, r.host, r.line, store.Micros(now), r.key)
			}
			// A record stored already (a resend merged into a newer batch)
			// is skipped; its sequence number stays unused.
			q.WriteString(" ON CONFLICT DO NOTHING")
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, problem.Unavailable(CodeUnavailable, err).WithHeader("Retry-After", "5")
	}
	if fresh && s.loki != nil && b.Kind == "logs" {
		entries := make([]lokiEntry, len(rows))
		for i, r := range rows {
			entries[i] = lokiEntry{ts: r.ts, line: r.line, stream: lokiStream{NodeID: b.NodeID, Hostname: r.host,
				Unit: r.unit, Severity: r.severity, Source: r.source, DomainID: domainID, ProjectID: projectID}}
		}
		s.loki.Enqueue(entries...)
	}
	return len(rows), nil
}
