package apiclient

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strconv"

	"github.com/coder/websocket"
)

// Terminal is an open browser terminal of an ssh session issued with
// terminal (OpenSessionTerminal): Read returns the shell's output, Write
// sends input, each Write one binary message, and Resize resizes the
// node's PTY. Read returns io.EOF when the server closes the socket
// normally (the shell exited) and otherwise an error that CloseReason
// explains (1008 with the reason on revocation or expiry).
type Terminal struct {
	net.Conn
	ws  *websocket.Conn
	ctx context.Context
}

// terminalResize is the control message of the terminal protocol.
type terminalResize struct {
	Type string `json:"type"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// Resize sends {"type":"resize","cols":C,"rows":R} as a text message.
func (t *Terminal) Resize(cols, rows int) error {
	msg, err := json.Marshal(terminalResize{Type: "resize", Cols: cols, Rows: rows})
	if err != nil {
		return err
	}
	return t.ws.Write(t.ctx, websocket.MessageText, msg)
}

// OpenTerminal opens GET …/sessions/{session_id}/terminal?cols=C&rows=R
// with the operator's own credentials (the control plane holds the
// session's SSH key). Zero cols or rows leave the server's default (80x24).
// ctx bounds the terminal's whole life, not just the handshake (which the
// client timeout bounds). A refusal before the upgrade is an *Error.
func (c *Client) OpenTerminal(ctx context.Context, projectID, sessionID string, cols, rows int) (*Terminal, error) {
	p, err := sessionPath(projectID, sessionID, "/terminal")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if cols > 0 {
		q.Set("cols", strconv.Itoa(cols))
	}
	if rows > 0 {
		q.Set("rows", strconv.Itoa(rows))
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	ws, err := c.dialSocket(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	return &Terminal{Conn: websocket.NetConn(ctx, ws, websocket.MessageBinary), ws: ws, ctx: ctx}, nil
}
