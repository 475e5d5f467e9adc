package apiclient

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func secretRoutes() []routeCase {
	const base = "/v1/projects/p1/secrets"
	return []routeCase{
		{name: "list", pattern: "GET " + base, reply: apiv1.List[apiv1.SecretSummary]{Items: []apiv1.SecretSummary{{Name: "db", CurrentVersion: 2}}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListSecrets(ctx, "p1", ListOptions{Cursor: "c1", Limit: 5})
			},
			want: "GET " + base + "?cursor=c1&limit=5",
			check: func(t *testing.T, got any) {
				if l := got.(*apiv1.List[apiv1.SecretSummary]); len(l.Items) != 1 || l.Items[0].CurrentVersion != 2 {
					t.Errorf("list = %+v", l)
				}
			}},
		{name: "put", pattern: "PUT " + base + "/{name}", reply: apiv1.SecretWriteResult{Name: "db", CurrentVersion: 1},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PutSecret(ctx, "p1", "db", []byte{0, 1, 2, 0xff, '\n'}, nil)
			},
			want: "PUT " + base + "/db", body: `{"value":"AAEC/wo="}`,
			check: func(t *testing.T, got any) {
				if r := got.(*apiv1.SecretWriteResult); r.CurrentVersion != 1 {
					t.Errorf("put = %+v", r)
				}
			}},
		// expected_version 0 (create only) must be sent, not omitted.
		{name: "put create-only", pattern: "PUT " + base + "/{name}", reply: apiv1.SecretWriteResult{Name: "db", CurrentVersion: 1},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PutSecret(ctx, "p1", "db", []byte("x"), ptr(int64(0)))
			},
			want: "PUT " + base + "/db", body: `{"value":"eA==","expected_version":0}`},
		{name: "get", pattern: "GET " + base + "/{name}", reply: apiv1.Secret{Name: "db", Bindings: 3},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetSecret(ctx, "p1", "db") },
			want: "GET " + base + "/db"},
		// A name is one path segment, whatever it holds.
		{name: "get escaped", pattern: "GET " + base + "/{name}", reply: apiv1.Secret{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetSecret(ctx, "p1", "a/../b") },
			want: "GET " + base + "/a%2F..%2Fb"},
		{name: "delete", pattern: "DELETE " + base + "/{name}",
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteSecret(ctx, "p1", "db") },
			want: "DELETE " + base + "/db", status: http.StatusNoContent},
		{name: "versions", pattern: "GET " + base + "/{name}/versions", reply: apiv1.List[apiv1.SecretVersion]{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.ListSecretVersions(ctx, "p1", "db") },
			want: "GET " + base + "/db/versions"},
		{name: "reveal current", pattern: "POST " + base + "/{name}/reveal",
			reply: apiv1.SecretReveal{Name: "db", Version: 2, Value: "AAEC/wo="},
			call:  func(ctx context.Context, c *Client) (any, error) { return c.RevealSecret(ctx, "p1", "db", 0) },
			want:  "POST " + base + "/db/reveal", body: `{}`,
			check: func(t *testing.T, got any) {
				r := got.(*RevealedSecret)
				if r.Name != "db" || r.Version != 2 || !bytes.Equal(r.Value, []byte{0, 1, 2, 0xff, '\n'}) {
					t.Errorf("reveal = %+v", r)
				}
			}},
		{name: "reveal version", pattern: "POST " + base + "/{name}/reveal", reply: apiv1.SecretReveal{Version: 1},
			call: func(ctx context.Context, c *Client) (any, error) { return c.RevealSecret(ctx, "p1", "db", 1) },
			want: "POST " + base + "/db/reveal", body: `{"version":1}`},
		{name: "bindings", pattern: "GET " + base + "/{name}/bindings", reply: apiv1.List[apiv1.SecretBinding]{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.ListSecretBindings(ctx, "p1", "db") },
			want: "GET " + base + "/db/bindings"},
		{name: "bind", pattern: "POST " + base + "/{name}/bindings", status: http.StatusCreated,
			reply: apiv1.SecretBinding{ID: "b1", Selector: "role=db", MatchedNodes: 2},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateSecretBinding(ctx, "p1", "db", apiv1.SecretBindingRequest{Selector: "role=db"})
			},
			want: "POST " + base + "/db/bindings", body: `{"selector":"role=db"}`,
			check: func(t *testing.T, got any) {
				if b := got.(*apiv1.SecretBinding); b.ID != "b1" || b.MatchedNodes != 2 {
					t.Errorf("bind = %+v", b)
				}
			}},
		{name: "unbind", pattern: "DELETE " + base + "/{name}/bindings/{id}", status: http.StatusNoContent,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteSecretBinding(ctx, "p1", "db", "b1")
			},
			want: "DELETE " + base + "/db/bindings/b1"},
	}
}

// Issue 11: every secret method sends its operation's request and decodes
// the answer; Put encodes and Reveal decodes the value as base64.
func TestSecretRoutes(t *testing.T) {
	for _, tc := range secretRoutes() {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiclienttest.NewServer(t)
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			if tc.reply == nil {
				srv.Status(tc.pattern, status)
			} else {
				srv.JSON(tc.pattern, status, tc.reply)
			}
			got, err := tc.call(t.Context(), newTestClient(t, srv))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			req := srv.Last()
			if req.Pattern() != tc.want {
				t.Errorf("request = %q, want %q", req.Pattern(), tc.want)
			}
			assertJSONBody(t, req.Body, tc.body)
			assertHeaders(t, req, false, tc.body != "")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

// A reveal whose value is not base64 is an error, not garbage bytes; a
// problem answer keeps its code.
func TestRevealSecretErrors(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.JSON("POST /v1/projects/p1/secrets/bad/reveal", 200, apiv1.SecretReveal{Name: "bad", Version: 1, Value: "not base64!"})
	srv.Problem("POST /v1/projects/p1/secrets/gone/reveal", apiv1.Problem{Status: 404, Code: "secret_not_found", Title: "Not Found"})
	c := newTestClient(t, srv)
	if r, err := c.RevealSecret(t.Context(), "p1", "bad", 0); err == nil {
		t.Fatalf("bad base64 accepted: %+v", r)
	}
	if _, err := c.RevealSecret(t.Context(), "p1", "gone", 0); !IsCode(err, "secret_not_found") {
		t.Fatalf("err = %v, want secret_not_found", err)
	}
}

// Empty ids are refused before any request.
func TestSecretMethodsRequireIDs(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	c := newTestClient(t, srv)
	ctx := t.Context()
	for name, call := range map[string]func() error{
		"list no project": func() error { _, err := c.ListSecrets(ctx, "", ListOptions{}); return err },
		"put no name":     func() error { _, err := c.PutSecret(ctx, "p1", " ", []byte("x"), nil); return err },
		"get no project":  func() error { _, err := c.GetSecret(ctx, "", "db"); return err },
		"delete no name":  func() error { return c.DeleteSecret(ctx, "p1", "") },
		"reveal no name":  func() error { _, err := c.RevealSecret(ctx, "p1", "", 0); return err },
		"bind no name":    func() error { _, err := c.CreateSecretBinding(ctx, "p1", "", apiv1.SecretBindingRequest{}); return err },
		"unbind no id":    func() error { return c.DeleteSecretBinding(ctx, "p1", "db", "") },
	} {
		if err := call(); !errors.Is(err, ErrMissingID) {
			t.Errorf("%s: err = %v, want ErrMissingID", name, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
