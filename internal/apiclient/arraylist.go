package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// arrayPage fetches one page of a contract list whose body is a bare JSON
// array (GET /v1/auth/tokens, GET /v1/admin/idp). The continuation is the
// X-Next-Cursor header; it is returned as the page's NextCursor so such
// lists page like every other (Pages, Items, Collect). The {items,
// next_cursor} envelope of servers before issue 8 is accepted too.
func arrayPage[T any](ctx context.Context, c *Client, r request) (*apiv1.List[T], error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: read response: %w", r.method, r.path, err)
	}
	out := &apiv1.List[T]{Items: []T{}}
	if err := decodeArrayPage(raw, out); err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: decode response: %w", r.method, r.path, err)
	}
	if next := resp.Header.Get("X-Next-Cursor"); next != "" {
		out.NextCursor = next
	}
	return out, nil
}

// decodeArrayPage fills out from a bare array or a list envelope.
func decodeArrayPage[T any](raw []byte, out *apiv1.List[T]) error {
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(raw, out); err != nil {
			return err
		}
		if out.Items == nil {
			out.Items = []T{}
		}
		return nil
	}
	if err := json.Unmarshal(raw, &out.Items); err != nil {
		return err
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return nil
}

// ListIdPBindingsPage calls GET /v1/admin/idp for one page: the IdP
// bindings the caller may manage, of one Domain when domainID is set. The
// body is the contract's bare array; NextCursor comes from X-Next-Cursor.
func (c *Client) ListIdPBindingsPage(ctx context.Context, domainID string, opts ListOptions) (*apiv1.List[apiv1.IdPBinding], error) {
	q := opts.values()
	if domainID != "" {
		q.Set("domain_id", domainID)
	}
	return arrayPage[apiv1.IdPBinding](ctx, c, request{method: http.MethodGet, path: "/v1/admin/idp", query: q})
}
