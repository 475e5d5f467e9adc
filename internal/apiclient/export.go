package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxExportLine bounds one NDJSON line of the audit export.
const maxExportLine = 4 << 20

// AuditRecord is one line of an audit export: the decoded entry and the
// line exactly as the server sent it (without the newline), so that a
// copy can keep fields this client does not know.
type AuditRecord struct {
	Entry apiv1.AuditEntry
	Raw   []byte
}

// AuditStream reads the NDJSON answer of GET …/audit/entries:export. It is
// not safe for concurrent use. Close it when done.
type AuditStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	line int
	err  error
}

// ExportAudit starts the export of a chain from fromSeq (the server's
// default, 1, when fromSeq < 1). The stream is bounded by ctx only, not by
// the client timeout.
func (c *Client) ExportAudit(ctx context.Context, ch Chain, fromSeq int64) (*AuditStream, error) {
	prefix, err := ch.prefix()
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if fromSeq > 0 {
		q.Set("from_seq", strconv.FormatInt(fromSeq, 10))
	}
	r := request{method: http.MethodGet, path: prefix + "/entries:export", query: q,
		accept: mediaNDJSON + ", " + mediaProblem}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	return NewAuditStream(resp.Body), nil
}

// NewAuditStream reads audit entries as JSON Lines from r, e.g. a file
// written by an earlier export.
func NewAuditStream(r io.ReadCloser) *AuditStream {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	return &AuditStream{body: r, sc: sc}
}

// Next returns the next record, or io.EOF after the last one. Blank lines
// are skipped; a line that is not an audit entry (a JSON object with a seq
// of at least 1) is an error naming its line number.
func (s *AuditStream) Next() (AuditRecord, error) {
	if s.err != nil {
		return AuditRecord{}, s.err
	}
	for s.sc.Scan() {
		s.line++
		raw := bytes.TrimSpace(s.sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var rec AuditRecord
		if err := json.Unmarshal(raw, &rec.Entry); err != nil {
			s.err = fmt.Errorf("apiclient: audit export line %d: %w", s.line, err)
			return AuditRecord{}, s.err
		}
		if rec.Entry.Seq < 1 {
			s.err = fmt.Errorf("apiclient: audit export line %d: entry has no seq", s.line)
			return AuditRecord{}, s.err
		}
		rec.Raw = bytes.Clone(raw)
		return rec, nil
	}
	s.err = io.EOF
	if err := s.sc.Err(); err != nil {
		s.err = fmt.Errorf("apiclient: audit export after line %d: %w", s.line, err)
	}
	return AuditRecord{}, s.err
}

// All yields the remaining records; a read error is yielded once and ends
// the iteration, io.EOF ends it silently.
func (s *AuditStream) All() iter.Seq2[AuditRecord, error] {
	return func(yield func(AuditRecord, error) bool) {
		for {
			rec, err := s.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// Close releases the connection.
func (s *AuditStream) Close() error { return s.body.Close() }
