// Package cpclient is plexd's HTTP client for the control plane's node
// endpoints (spec/node-protocol.md §2, §4, §5, §6.1): registration, state,
// heartbeat, drift, report, secrets (opened under the NSK at level 1, or
// with the node's sealing key at level 2), sealing-key registration,
// deregistration and the event stream.
// It sends the headers every agent request carries, negotiates the protocol
// level on every response (§1.3), gzips large bodies (C1) and turns non-2xx
// answers into *StatusError with the integer Retry-After (R3).
package cpclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/version"
)

// Limits of the client.
const (
	// RequestTimeout bounds every call but the event stream (T4).
	RequestTimeout = 30 * time.Second
	// gzipThreshold: bodies above it go gzipped (C1).
	gzipThreshold = 1024
	// maxResponse bounds a decoded JSON response (C2's 10 MiB).
	maxResponse = 10 << 20
	// maxErrorBody is how much of an error body is kept for the log (R2).
	maxErrorBody = 4 << 10
)

// ErrNoCredentials: a node call was made before the client knew its NSK.
var ErrNoCredentials = errors.New("cpclient: no node credentials")

// StatusError is a non-2xx answer.
type StatusError struct {
	Op     string
	Status int
	// Code is the problem body's code, when it had one (for logs only).
	Code string
	// RetryAfter is the integer Retry-After, 0 when absent or invalid.
	RetryAfter time.Duration
	// Body is the first 4 KiB of the body.
	Body string
}

func (e *StatusError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s: HTTP %d (%s)", e.Op, e.Status, e.Code)
	}
	return fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
}

// IsStatus reports whether err is a *StatusError with one of statuses.
func IsStatus(err error, statuses ...int) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	for _, s := range statuses {
		if se.Status == s {
			return true
		}
	}
	return false
}

// Options configures a Client.
type Options struct {
	// Server is the control plane's base URL. Required.
	Server string
	// Transport carries requests; a clone of http.DefaultTransport when nil.
	Transport http.RoundTripper
	// UserAgent defaults to "plexd/<version>".
	UserAgent string
	// Level is the protocol level announced (N1); nodeproto.MaxLevel when 0.
	Level int
	// Logger receives debug notes (never a secret); discarded when nil.
	Logger *slog.Logger
}

// Client talks to one control plane. It is safe for concurrent use.
type Client struct {
	base      string
	http      *http.Client // non-stream calls; each bounded by RequestTimeout
	stream    *http.Client // the event stream: no timeout, no compression
	userAgent string
	level     int
	// negotiated is the level of the latest response (N5), 1 until one says more.
	negotiated atomic.Int64
	// creds is the node's identity once known.
	creds atomic.Pointer[credentials]
	// sealing is the node's sealing key once installed (level 2).
	sealing atomic.Pointer[sealingKey]
	log     *slog.Logger
}

type credentials struct {
	nodeID string
	nsk    string
}

// sealingKey is the private half that opens sealed answers and its kid.
type sealingKey struct {
	private, kid string
	// acknowledged: the control plane confirmed this kid, so sealed
	// delivery is what the node expects.
	acknowledged atomic.Bool
}

// New validates opts and builds a Client.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.Server)
	if opts.Server == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cpclient: Options.Server %q is not an http(s) URL", opts.Server)
	}
	c := &Client{base: strings.TrimRight(opts.Server, "/"), userAgent: opts.UserAgent, level: opts.Level, log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.userAgent == "" {
		c.userAgent = nodeproto.UserAgentPrefix + version.Version
	}
	if c.level <= 0 {
		c.level = nodeproto.MaxLevel
	}
	tr := opts.Transport
	streamTr := opts.Transport
	if tr == nil {
		base := http.DefaultTransport.(*http.Transport).Clone()
		tr = base
		st := base.Clone()
		st.DisableCompression = true // §6.1: no Accept-Encoding on the stream
		streamTr = st
	} else if ht, ok := tr.(*http.Transport); ok {
		st := ht.Clone()
		st.DisableCompression = true
		streamTr = st
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: noRedirect}
	c.stream = &http.Client{Transport: streamTr, CheckRedirect: noRedirect}
	c.negotiated.Store(nodeproto.Level1)
	return c, nil
}

// noRedirect keeps the NSK from following a redirect to another origin.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// SetCredentials installs the node id and NSK used by every node call.
func (c *Client) SetCredentials(nodeID, nsk string) {
	c.creds.Store(&credentials{nodeID: nodeID, nsk: nsk})
}

// SetSealingKey installs the node's sealing private key (Key32), which
// opens level-2 answers; acknowledged says the control plane already
// confirmed its public half (RegisterSealingKey sets it too).
func (c *Client) SetSealingKey(private string, acknowledged bool) error {
	pub, err := publicOf(private)
	if err != nil {
		return fmt.Errorf("cpclient: sealing key: %w", err)
	}
	kid, err := nodeproto.SealingKID(pub)
	if err != nil {
		return fmt.Errorf("cpclient: sealing key: %w", err)
	}
	k := &sealingKey{private: private, kid: kid}
	k.acknowledged.Store(acknowledged)
	c.sealing.Store(k)
	return nil
}

// Level is the protocol level the control plane last negotiated (N5).
func (c *Client) Level() int { return int(c.negotiated.Load()) }

// Register enrols the node with a bootstrap token (§4). The token is both
// the bearer and the body member.
func (c *Client) Register(ctx context.Context, token string, req nodeproto.RegisterRequest) (*nodeproto.RegisterResponse, error) {
	req.Token = token
	resp := &nodeproto.RegisterResponse{}
	if err := c.do(ctx, "register", http.MethodPost, "/v1/register", token, req, resp); err != nil {
		return nil, err
	}
	resp.FillAliases()
	if err := resp.Validate(); err != nil {
		return nil, fmt.Errorf("register: response: %w", err)
	}
	return resp, nil
}

// State fetches the desired state (§9.1).
func (c *Client) State(ctx context.Context) (*nodeproto.StateResponse, error) {
	st := &nodeproto.StateResponse{}
	if err := c.nodeCall(ctx, "state", http.MethodGet, "state", nil, st); err != nil {
		return nil, err
	}
	return st, nil
}

// Heartbeat posts hb (§5.2).
func (c *Client) Heartbeat(ctx context.Context, hb nodeproto.Heartbeat) (*nodeproto.HeartbeatResponse, error) {
	resp := &nodeproto.HeartbeatResponse{}
	if err := c.nodeCall(ctx, "heartbeat", http.MethodPost, "heartbeat", hb, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Drift posts a drift report (§9.4).
func (c *Client) Drift(ctx context.Context, r nodeproto.DriftReport) error {
	return c.nodeCall(ctx, "drift", http.MethodPost, "drift", r, nil)
}

// Report pushes local report entries (§5.2 endpoint 8).
func (c *Client) Report(ctx context.Context, r nodeproto.ReportSync) error {
	return c.nodeCall(ctx, "report", http.MethodPost, "report", r, nil)
}

// Secret fetches one secret (§11.1); the caller opens it with the NSK.
func (c *Client) Secret(ctx context.Context, key string) (*nodeproto.SecretResponse, error) {
	resp := &nodeproto.SecretResponse{}
	if err := c.nodeCall(ctx, "secret", http.MethodGet, "secrets/"+url.PathEscape(key), nil, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// OpenSecret fetches and decrypts one secret: a sealed answer (level 2)
// with the sealing key, else the level-1 form with the NSK. The control
// plane decides the form; a sealed answer that does not open is
// nodeproto.ErrSealedSecret, a level-1 one nodeproto.ErrSecretOpen.
func (c *Client) OpenSecret(ctx context.Context, key string) ([]byte, int64, error) {
	resp, err := c.Secret(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	cr := c.creds.Load()
	if cr == nil {
		return nil, 0, ErrNoCredentials
	}
	sk := c.sealing.Load()
	if resp.Sealed == "" {
		if sk != nil && sk.acknowledged.Load() {
			c.log.LogAttrs(ctx, slog.LevelDebug, "secret delivered at level 1 though the sealing key is registered",
				slog.String(logkey.SecretKey, key))
		}
		plain, err := resp.Open(cr.nsk)
		if err != nil {
			return nil, 0, err
		}
		return plain, resp.Version, nil
	}
	switch {
	case sk == nil:
		return nil, 0, fmt.Errorf("%w: this node holds no sealing key", nodeproto.ErrSealedSecret)
	case resp.KID != "" && resp.KID != sk.kid:
		return nil, 0, fmt.Errorf("%w: sealed to key %s, this node holds %s", nodeproto.ErrSealedSecret, resp.KID, sk.kid)
	}
	plain, err := resp.OpenSealed(sk.private, cr.nodeID)
	if err != nil {
		return nil, 0, err
	}
	return plain, resp.Version, nil
}

// RegisterSealingKey registers the node's sealing public key (level 2,
// PUT /v1/nodes/{id}/sealing-key). The answer must name the same key and
// its kid; if it is the installed key, sealed delivery is then expected.
func (c *Client) RegisterSealingKey(ctx context.Context, publicKey string) (*nodeproto.SealingKeyResponse, error) {
	kid, err := nodeproto.SealingKID(publicKey)
	if err != nil {
		return nil, fmt.Errorf("sealing-key: %w", err)
	}
	resp := &nodeproto.SealingKeyResponse{}
	if err := c.nodeCall(ctx, "sealing-key", http.MethodPut, "sealing-key", nodeproto.SealingKeyRequest{PublicKey: publicKey}, resp); err != nil {
		return nil, err
	}
	if resp.KID != kid || resp.PublicKey != publicKey {
		return nil, fmt.Errorf("sealing-key: the answer names key %q, want %q", resp.KID, kid)
	}
	if sk := c.sealing.Load(); sk != nil && sk.kid == kid {
		sk.acknowledged.Store(true)
	}
	return resp, nil
}

// EndpointAnswer is the answer to an endpoint report: each peer's
// endpoint (level 1) and, from the contract's form, until when the report
// holds (zero when the control plane did not say).
type EndpointAnswer struct {
	PeerEndpoints []nodeproto.PeerEndpoint `json:"peer_endpoints"`
	AcceptedAt    time.Time                `json:"accepted_at"`
	StaleAfter    time.Time                `json:"stale_after"`
}

// ReportEndpoint reports the node's public endpoint, NAT type and
// candidates (PUT /v1/nodes/{node_id}/endpoint, §12.2).
func (c *Client) ReportEndpoint(ctx context.Context, r nodeproto.EndpointReport) (*EndpointAnswer, error) {
	resp := &EndpointAnswer{}
	if err := c.nodeCall(ctx, "endpoint", http.MethodPut, "endpoint", r, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Deregister revokes the node (§5.2 endpoint 4). No body is sent.
func (c *Client) Deregister(ctx context.Context) error {
	return c.nodeCall(ctx, "deregister", http.MethodPost, "deregister", nil, nil)
}

// RotateKey reports a new WireGuard public key (§5.2 endpoint 9; our
// plexd calls it only at level ≥ 2). The NSK identifies the node.
func (c *Client) RotateKey(ctx context.Context, req nodeproto.KeyRotateRequest) (*nodeproto.KeyRotateResponse, error) {
	cr := c.creds.Load()
	if cr == nil {
		return nil, ErrNoCredentials
	}
	resp := &nodeproto.KeyRotateResponse{}
	if err := c.do(ctx, "keys/rotate", http.MethodPost, "/v1/keys/rotate", cr.nsk, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// OpenEvents opens the event stream (§6.1), resuming after lastEventID when
// set. The caller reads the body until it fails and closes it; ctx ends it.
func (c *Client) OpenEvents(ctx context.Context, lastEventID string) (io.ReadCloser, error) {
	cr := c.creds.Load()
	if cr == nil {
		return nil, ErrNoCredentials
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.nodeURL(cr, "events"), nil)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	c.headers(req, cr.nsk)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if lastEventID != "" {
		req.Header.Set(nodeproto.HeaderLastEventID, lastEventID)
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	c.negotiate(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, statusError("events", resp)
	}
	return resp.Body, nil
}

func (c *Client) nodeURL(cr *credentials, suffix string) string {
	return c.base + "/v1/nodes/" + url.PathEscape(cr.nodeID) + "/" + suffix
}

func (c *Client) nodeCall(ctx context.Context, op, method, suffix string, body, out any) error {
	cr := c.creds.Load()
	if cr == nil {
		return ErrNoCredentials
	}
	return c.do(ctx, op, method, strings.TrimPrefix(c.nodeURL(cr, suffix), c.base), cr.nsk, body, out)
}

func (c *Client) headers(req *http.Request, bearer string) {
	req.Header.Set(nodeproto.HeaderAuthorization, "Bearer "+bearer)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(nodeproto.HeaderPlexdProtocol, strconv.Itoa(c.level))
}

// do sends one JSON request. A nil body sends none (deregister: no
// Content-Type either); a nil out ignores the response body.
func (c *Client) do(ctx context.Context, op, method, path, bearer string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	var rd io.Reader
	gz := false
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encode: %w", op, err)
		}
		if len(raw) > gzipThreshold {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(raw)
			zw.Close()
			raw, gz = buf.Bytes(), true
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	c.headers(req, bearer)
	req.Header.Set("Accept", nodeproto.ContentTypeJSON)
	if body != nil {
		req.Header.Set("Content-Type", nodeproto.ContentTypeJSON)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
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
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s: read: %w", op, err)
	}
	if len(raw) > maxResponse {
		return fmt.Errorf("%s: response larger than %d bytes", op, maxResponse)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode: %w", op, err)
	}
	return nil
}

// negotiate records the level of resp (N5: missing or bad means 1).
func (c *Client) negotiate(resp *http.Response) {
	l := nodeproto.ParseLevel(resp.Header.Get(nodeproto.HeaderPlexsphereProtocol))
	c.negotiated.Store(int64(min(l, c.level)))
}

// publicOf derives the Key32 public key of a Key32 X25519 private key.
func publicOf(private string) (string, error) {
	raw, err := nodeproto.ParseKey32(private)
	if err != nil {
		return "", err
	}
	priv, err := ecdh.X25519().NewPrivateKey(raw[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()), nil
}

func statusError(op string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	se := &StatusError{Op: op, Status: resp.StatusCode, Body: string(raw)}
	if s := resp.Header.Get(nodeproto.HeaderRetryAfter); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 86400 {
			se.RetryAfter = time.Duration(n) * time.Second
		}
	}
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(raw, &p) == nil && len(p.Code) <= 64 && nodeproto.ValidEventType(p.Code) {
		se.Code = p.Code
	}
	return se
}
