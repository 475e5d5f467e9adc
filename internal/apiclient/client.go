package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults filled in by New.
const (
	// DefaultTimeout bounds one request/response exchange, body included.
	// Streams (the audit export) are bounded by their context only.
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "plexsphere-apiclient/v1"
	// responseHeaderTimeout bounds the wait for response headers on the
	// default transport, streams included.
	responseHeaderTimeout = 60 * time.Second
	// maxErrorBody caps how much of an error response is read.
	maxErrorBody = 64 << 10
)

// Media types spoken by the API.
const (
	mediaJSON    = "application/json"
	mediaProblem = "application/problem+json"
	mediaNDJSON  = "application/x-ndjson"
)

// Options configures a Client. Only BaseURL is required.
type Options struct {
	// BaseURL is where the server lives, e.g. https://plexsphere.example.com
	// (the /v1 paths are appended to it). Scheme http or https.
	BaseURL string
	// Token is the bearer credential (psk_…); empty sends no Authorization
	// header. It is never sent to the public meta endpoints.
	Token string
	// HTTPClient sends the requests. When nil, a client over a clone of
	// http.DefaultTransport with a response-header timeout is used.
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent; DefaultUserAgent when empty.
	UserAgent string
	// Timeout bounds each non-streaming call; DefaultTimeout when zero,
	// no bound when negative.
	Timeout time.Duration
}

// Client calls the operator API. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	token   string
	hc      *http.Client
	ua      string
	timeout time.Duration
}

// New validates o, fills its defaults and returns a Client.
func New(o Options) (*Client, error) {
	base, err := normalizeBaseURL(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(o.Token, isSpaceOrControl) {
		return nil, errors.New("apiclient: Options.Token contains whitespace or control characters")
	}
	if strings.ContainsFunc(o.UserAgent, isControl) {
		return nil, errors.New("apiclient: Options.UserAgent contains control characters")
	}
	c := &Client{base: base, token: o.Token, hc: o.HTTPClient, ua: o.UserAgent, timeout: o.Timeout}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// BaseURL returns the normalized base URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

func normalizeBaseURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("apiclient: Options.BaseURL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("apiclient: Options.BaseURL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("apiclient: Options.BaseURL %q: scheme must be http or https", raw)
	case u.Host == "":
		return "", fmt.Errorf("apiclient: Options.BaseURL %q: host is missing", raw)
	case u.User != nil:
		return "", fmt.Errorf("apiclient: Options.BaseURL: credentials in the URL are not supported; use Options.Token")
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("apiclient: Options.BaseURL %q: query and fragment are not allowed", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = responseHeaderTimeout
	return &http.Client{Transport: t}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isSpaceOrControl(r rune) bool { return r == ' ' || isControl(r) }

// request describes one API call. path is already escaped.
type request struct {
	method string
	path   string
	query  url.Values
	body   any
	public bool   // send no credential
	accept string // defaults to JSON
}

// do performs r within the client timeout and decodes a 2xx JSON answer
// into out (nil discards it).
func (c *Client) do(ctx context.Context, r request, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("apiclient: %s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// send builds and sends r. A non-2xx answer is consumed and returned as
// *Error; otherwise the caller owns the response body.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
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
	return resp, nil
}

func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("apiclient: %s %s: encode body: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", r.method, r.path, err)
	}
	accept := r.accept
	if accept == "" {
		accept = mediaJSON + ", " + mediaProblem
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", mediaJSON)
	}
	if c.token != "" && !r.public {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// pathf joins literal path parts and path-escaped parameters: every odd
// argument is escaped, so an id can never add a path segment.
func pathf(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString(url.PathEscape(p))
			continue
		}
		b.WriteString(p)
	}
	return b.String()
}
