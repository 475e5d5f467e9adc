package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults of ReportLimits (issue 7 row 12). A report entry's payload is
// at most 1 MiB, as the agent's local API allows (§12.8).
const (
	DefaultReportEntries    = 1000
	DefaultReportEntryBytes = 1 << 20
	DefaultReportKeys       = 1000
	DefaultReportBytes      = 4 << 20
)

// maxReportField bounds a report key and a content type in bytes; an entry
// with a longer one is invalid and dropped (R6).
const maxReportField = 256

// Problem codes of the report endpoint beyond its bounds.
const (
	CodeReportTooLarge      = "report_too_large"      // 413
	CodeReportQuotaExceeded = "report_quota_exceeded" // 422
)

// ReportLimits bounds what a node stores through POST …/report. A report
// beyond Entries or EntryBytes is refused whole with 413
// report_too_large; one that would take the node's stored entries beyond
// Keys or Bytes (and grows them) with 422 report_quota_exceeded. Nothing
// of a refused report is stored. Zero fields take the defaults.
type ReportLimits struct {
	// Entries bounds the entries, and separately the deleted keys, of one
	// report (DefaultReportEntries).
	Entries int
	// EntryBytes bounds one entry's payload in bytes of JSON
	// (DefaultReportEntryBytes).
	EntryBytes int
	// Keys bounds the entries a node keeps (DefaultReportKeys).
	Keys int
	// Bytes bounds the stored size of a node's entries: key, content type
	// and payload bytes, summed (DefaultReportBytes).
	Bytes int64
}

// withDefaults fills zero fields; negative ones are refused.
func (l ReportLimits) withDefaults() (ReportLimits, error) {
	if l.Entries < 0 || l.EntryBytes < 0 || l.Keys < 0 || l.Bytes < 0 {
		return l, errors.New("events: Config.Reports limits must not be negative")
	}
	if l.Entries == 0 {
		l.Entries = DefaultReportEntries
	}
	if l.EntryBytes == 0 {
		l.EntryBytes = DefaultReportEntryBytes
	}
	if l.Keys == 0 {
		l.Keys = DefaultReportKeys
	}
	if l.Bytes == 0 {
		l.Bytes = DefaultReportBytes
	}
	return l, nil
}

// reportBatch is a decoded report: its storable entries and the keys to
// delete, invalid ones dropped (R6).
type reportBatch struct {
	entries []nodeproto.ReportEntry
	deleted []string
}

// decodeReport decodes a report body (inflated) within lim: 400 when it
// is not a report, 413 report_too_large beyond the per-report bounds. An
// empty body is an empty report.
func decodeReport(raw []byte, lim ReportLimits) (reportBatch, error) {
	body, err := jsonBody(raw)
	if err != nil {
		return reportBatch{}, err
	}
	var rs nodeproto.ReportSync
	if err := json.Unmarshal(body, &rs); err != nil {
		return reportBatch{}, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not a report.")
	}
	if len(rs.Entries) > lim.Entries || len(rs.Deleted) > lim.Entries {
		return reportBatch{}, problem.Newf(http.StatusRequestEntityTooLarge, CodeReportTooLarge,
			"A report carries at most %d entries and %d deleted keys.", lim.Entries, lim.Entries)
	}
	var b reportBatch
	for _, e := range rs.Entries {
		if len(e.Payload) > lim.EntryBytes {
			return reportBatch{}, problem.Newf(http.StatusRequestEntityTooLarge, CodeReportTooLarge,
				"A report entry's payload is at most %d bytes.", lim.EntryBytes)
		}
		if storableEntry(&e) {
			if e.Payload == nil {
				e.Payload = json.RawMessage("null")
			}
			b.entries = append(b.entries, e)
		}
	}
	for _, k := range rs.Deleted {
		if storableField(k) && nodeproto.ValidReportKey(k) {
			b.deleted = append(b.deleted, k)
		}
	}
	return b, nil
}

// storableEntry: a valid entry (§12.8) whose strings both databases store
// as text: valid UTF-8 without NUL, key and content type bounded.
func storableEntry(e *nodeproto.ReportEntry) bool {
	return e.Validate() == nil && storableField(e.Key) && storableField(e.ContentType) && utf8.Valid(e.Payload)
}

func storableField(s string) bool {
	return len(s) <= maxReportField && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// entrySize is what an entry counts against its node's Bytes.
func entrySize(e *nodeproto.ReportEntry) int64 {
	return int64(len(e.Key) + len(e.ContentType) + len(e.Payload))
}

// reportUsage is a node's stored entries: how many, and their size.
type reportUsage struct {
	keys  int
	bytes int64
}

func usageOf(ctx context.Context, tx *sql.Tx, nodeID string) (reportUsage, error) {
	var u reportUsage
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)
		FROM node_reports WHERE node_id = $1`, nodeID).Scan(&u.keys, &u.bytes)
	return u, err
}

// within refuses after unless it stays within lim or shrinks from before
// (a node over a lowered quota can still delete).
func (lim ReportLimits) within(before, after reportUsage) error {
	if (after.keys > lim.Keys && after.keys > before.keys) || (after.bytes > lim.Bytes && after.bytes > before.bytes) {
		return problem.Newf(http.StatusUnprocessableEntity, CodeReportQuotaExceeded,
			"A node keeps at most %d report entries of %d bytes in total.", lim.Keys, lim.Bytes)
	}
	return nil
}

// report stores entries per node, last writer wins, and answers 2xx to
// every well-formed body within the node's bounds, stale versions and null
// members included (§5.2, C14); invalid entries are dropped (R6). The node
// row is locked first, so reports of one node apply one at a time and none
// lands after the node's removal.
func (a *agent) report(ctx context.Context, in *bodyInput) (*struct{}, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	lim := a.s.cfg.Reports
	batch, err := decodeReport(in.RawBody, lim)
	if err != nil {
		return nil, err
	}
	now := store.Micros(a.s.cfg.Now())
	err = a.s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := a.s.lockLive(ctx, tx, in.ID); err != nil {
			return err
		}
		before, err := usageOf(ctx, tx, in.ID)
		if err != nil {
			return err
		}
		for _, e := range batch.entries {
			if _, err := tx.ExecContext(ctx, `INSERT INTO node_reports (node_id, report_key, content_type, payload, version,
				updated_at, received_at, size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (node_id, report_key)
				DO UPDATE SET content_type = $3, payload = $4, version = $5, updated_at = $6, received_at = $7, size_bytes = $8`,
				in.ID, e.Key, e.ContentType, string(e.Payload), e.Version, store.Micros(e.UpdatedAt), now, entrySize(&e)); err != nil {
				return err
			}
		}
		for _, k := range batch.deleted {
			if _, err := tx.ExecContext(ctx, `DELETE FROM node_reports WHERE node_id = $1 AND report_key = $2`, in.ID, k); err != nil {
				return err
			}
		}
		after, err := usageOf(ctx, tx, in.ID)
		if err != nil {
			return err
		}
		return lim.within(before, after)
	})
	if err != nil {
		return nil, agentError(err)
	}
	return nil, nil
}

// lockLive locks the node's row for the rest of tx and refuses a removed
// node with 401 nsk_revoked (its NSK was revoked after the request was
// authenticated). A node the table does not hold passes: authentication
// belongs to the enrollment context.
func (s *Service) lockLive(ctx context.Context, tx *sql.Tx, nodeID string) error {
	var revoked sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM nodes WHERE id = $1`+s.db.ForUpdate(), nodeID).Scan(&revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("events: lock node: %w", err)
	case revoked.Valid:
		return errRevoked()
	}
	return nil
}

func errRevoked() error {
	return problem.New(http.StatusUnauthorized, nodeproto.CodeNSKRevoked, "The node was deregistered or revoked.")
}
