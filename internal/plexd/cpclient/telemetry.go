package cpclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// PostTelemetry posts one telemetry batch (POST /v1/nodes/{id}/metrics,
// …/logs or …/audit, §12.7): body is the batch's JSON array, gzipped
// above 1 KiB, sent under key as its Idempotency-Key in one attempt. A
// non-2xx answer is a *StatusError with the integer Retry-After; the
// caller keeps and retries the batch.
func (c *Client) PostTelemetry(ctx context.Context, kind, key string, body []byte) error {
	switch kind {
	case "metrics", "logs", "audit":
	default:
		return fmt.Errorf("telemetry: unknown kind %q", kind)
	}
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	op := "telemetry " + kind
	gz := len(body) > gzipThreshold
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.nodeURL(cr, kind), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	c.headers(req, cr.nsk)
	req.Header.Set("Accept", nodeproto.ContentTypeJSON)
	req.Header.Set("Content-Type", nodeproto.ContentTypeJSON)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if key != "" {
		req.Header.Set(nodeproto.HeaderIdempotencyKey, key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	c.negotiate(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(op, resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	return nil
}
