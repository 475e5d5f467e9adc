package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxLogTailLine bounds one line of a log tail (a frame of up to 500 lines
// of at most 64 KiB each).
const maxLogTailLine = 40 << 20

// LogsQuery is a QueryDomainLogs request.
type LogsQuery struct {
	// Query is the LogQL expression (docs/observability.md).
	Query      string
	Start, End time.Time
	// Limit 0 takes the server's default (100); Direction "" backward.
	Limit     int
	Direction string
	NodeID    string
}

// LogsQueryResult is the contract's answer: the Loki HTTP API body.
type LogsQueryResult struct {
	StatusCode int    `json:"status_code"`
	Body       string `json:"body"`
}

// LogStream is one Loki stream: its labels and [unix ns, line] values.
type LogStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// Streams decodes the Loki body's streams.
func (r LogsQueryResult) Streams() ([]LogStream, error) {
	var b struct {
		Status string `json:"status"`
		Data   struct {
			Result []LogStream `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		return nil, fmt.Errorf("apiclient: logs query body: %w", err)
	}
	return b.Data.Result, nil
}

// QueryDomainLogs runs a LogQL query over a Domain's node logs (or, with
// stream="audit", its node audit events).
func (c *Client) QueryDomainLogs(ctx context.Context, domainID string, q LogsQuery) (LogsQueryResult, error) {
	var out LogsQueryResult
	if err := requireID("domain id", domainID); err != nil {
		return out, err
	}
	v := url.Values{"query": {q.Query}, "start": {q.Start.UTC().Format(time.RFC3339Nano)},
		"end": {q.End.UTC().Format(time.RFC3339Nano)}}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Direction != "" {
		v.Set("direction", q.Direction)
	}
	if q.NodeID != "" {
		v.Set("nodeId", q.NodeID)
	}
	err := c.do(ctx, request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/logs/query"), query: v}, &out)
	return out, err
}

// LogTail reads GET /v1/domains/{domainId}/logs/tail. It is not safe for
// concurrent use. Close it when done.
type LogTail struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	err  error
}

// TailDomainLogs opens a live tail of a LogQL query; it is bounded by ctx
// only, not by the client timeout.
func (c *Client) TailDomainLogs(ctx context.Context, domainID, query string) (*LogTail, error) {
	if err := requireID("domain id", domainID); err != nil {
		return nil, err
	}
	r := request{method: http.MethodGet, path: pathf("/v1/domains/", domainID, "/logs/tail"),
		query: url.Values{"query": {query}}, accept: "text/event-stream, " + mediaProblem}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readError(resp, r.method, r.path)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogTailLine)
	return &LogTail{body: resp.Body, sc: sc}, nil
}

// Next returns the streams of the next frame, or io.EOF once the server
// ended the tail. Comments are skipped.
func (t *LogTail) Next() ([]LogStream, error) {
	if t.err != nil {
		return nil, t.err
	}
	for t.sc.Scan() {
		line := t.sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var f struct {
			Streams []LogStream `json:"streams"`
		}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.err = fmt.Errorf("apiclient: log tail: malformed frame: %w", err)
			return nil, t.err
		}
		return f.Streams, nil
	}
	t.err = io.EOF
	if err := t.sc.Err(); err != nil {
		t.err = fmt.Errorf("apiclient: log tail: %w", err)
	}
	return nil, t.err
}

// Close releases the connection.
func (t *LogTail) Close() error { return t.body.Close() }
