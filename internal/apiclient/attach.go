package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// SessionTokenHeader carries a session's token on the attach request; the
// operator's own credential stays in Authorization.
const SessionTokenHeader = "X-Plexsphere-Session-Token"

// Attach opens GET …/sessions/{session_id}/attach, the WebSocket through
// which the control plane's gateway splices an ssh or tcp session to its
// node, and returns it as a byte stream: each Write is one binary message.
// ctx bounds the stream's whole life, not just the handshake (which the
// client timeout bounds). A refusal before the upgrade is an *Error.
//
// When the server ends the stream with a close frame other than a normal
// closure, Read returns an error that CloseReason explains.
func (c *Client) Attach(ctx context.Context, projectID, sessionID, sessionToken string) (net.Conn, error) {
	p, err := sessionPath(projectID, sessionID, "/attach")
	if err != nil {
		return nil, err
	}
	if err := requireID("session token", sessionToken); err != nil {
		return nil, err
	}
	if strings.ContainsFunc(sessionToken, isSpaceOrControl) {
		return nil, errors.New("apiclient: session token contains whitespace or control characters")
	}
	ws, err := c.dialSocket(ctx, p, http.Header{SessionTokenHeader: {sessionToken}})
	if err != nil {
		return nil, err
	}
	return websocket.NetConn(ctx, ws, websocket.MessageBinary), nil
}

// dialSocket opens the WebSocket at path (with its query) with the
// client's credentials and extra headers; the client timeout bounds the
// handshake only. A refusal before the upgrade is an *Error.
func (c *Client) dialSocket(ctx context.Context, path string, extra http.Header) (*websocket.Conn, error) {
	hdr := extra.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("User-Agent", c.ua)
	if c.token != "" {
		hdr.Set("Authorization", "Bearer "+c.token)
	}
	dialCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		dialCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	ws, resp, err := websocket.Dial(dialCtx, c.base+path, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: hdr,
		CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			return nil, readError(resp, http.MethodGet, path)
		}
		return nil, fmt.Errorf("apiclient: GET %s: %w", path, err)
	}
	return ws, nil
}

// CloseReason reports whether err (from reading an attached stream) is the
// server closing it with a status other than a normal closure, and if so
// the status code and the reason the server gave (e.g. "session_revoked").
func CloseReason(err error) (code int, reason string, ok bool) {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return 0, "", false
	}
	return int(ce.Code), ce.Reason, true
}
