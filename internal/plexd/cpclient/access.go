package cpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Retries of the session calls: activity and recording chunks are sent
// from the access listener's background loops, so a transient failure
// (network, 429, 5xx) is retried here a few times before it is logged.
const (
	sessionAttempts = 3
	sessionBackoff  = 500 * time.Millisecond
	maxSessionWait  = 5 * time.Second
)

// SessionActivity reports an access session's activity (POST
// /v1/nodes/{id}/sessions/{session_id}, api.md §3.9).
func (c *Client) SessionActivity(ctx context.Context, nodeID, sessionID string, a nodeproto.SessionActivity) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("session activity: %w", err)
	}
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	path := sessionPath(nodeID, sessionID)
	return retrySession(ctx, func() error {
		return c.do(ctx, "session activity", http.MethodPost, path, cr.nsk, a, nil)
	})
}

// SessionRecording uploads one chunk of an ssh session's asciicast
// recording at offset (POST …/sessions/{session_id}/recording); final
// marks the last chunk.
func (c *Client) SessionRecording(ctx context.Context, nodeID, sessionID string, offset int64, chunk []byte, final bool) error {
	if len(chunk) > nodeproto.MaxRecordingChunk || offset < 0 {
		return fmt.Errorf("session recording: a chunk of %d bytes at offset %d", len(chunk), offset)
	}
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	path := sessionPath(nodeID, sessionID) + "/recording"
	return retrySession(ctx, func() error { return c.postRecording(ctx, path, cr.nsk, offset, chunk, final) })
}

func sessionPath(nodeID, sessionID string) string {
	return "/v1/nodes/" + url.PathEscape(nodeID) + "/sessions/" + url.PathEscape(sessionID)
}

// postRecording sends one octet-stream chunk with the recording headers.
func (c *Client) postRecording(ctx context.Context, path, nsk string, offset int64, chunk []byte, final bool) error {
	const op = "session recording"
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(chunk))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	c.headers(req, nsk)
	req.Header.Set("Accept", nodeproto.ContentTypeJSON)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(nodeproto.HeaderRecordingOffset, strconv.FormatInt(offset, 10))
	if final {
		req.Header.Set(nodeproto.HeaderRecordingFinal, "1")
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

// retrySession runs call up to sessionAttempts times while it fails
// transiently, waiting the answer's Retry-After (capped) or a doubling
// backoff.
func retrySession(ctx context.Context, call func() error) error {
	wait := sessionBackoff
	var err error
	for i := 0; i < sessionAttempts; i++ {
		if err = call(); err == nil || !transient(err) || i == sessionAttempts-1 {
			return err
		}
		d := wait
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			d = min(se.RetryAfter, maxSessionWait)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
	return err
}

// transient: worth retrying (no answer, 429 or a 5xx).
func transient(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, ErrNoCredentials)
	}
	return se.Status == http.StatusTooManyRequests || se.Status >= 500
}
