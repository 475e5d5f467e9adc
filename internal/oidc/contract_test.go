package oidc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// adminClient is an API client with the fixture's admin token.
func adminClient(t *testing.T, f *oidctest.Fixture) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(apiclient.Options{BaseURL: f.URL, Token: f.Token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Issue 8 row "GET /v1/admin/idp": the contract's client decodes a bare
// JSON array; we sent {items, next_cursor}. The list is now a bare array,
// every item carries the contract's required fields, and the next page is
// named by X-Next-Cursor and a Link rel="next" header (absent on the last
// page), which apiclient follows.
func TestIssue8IdPListBareArray(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp, idp2 := f.Issuer(t, nil), f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			other := f.Domain(t, "other", "100.65.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
			f.Bind(t, idp2, apiv1.CreateIdPBinding{DomainID: dom})
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: other})

			resp, raw := f.Send(t, f.Token, "GET", "/v1/admin/idp?domain_id="+dom)
			var items []map[string]any
			if resp.StatusCode != 200 || json.Unmarshal(raw, &items) != nil || len(items) != 2 {
				t.Fatalf("list is not a bare array of 2: %d %s", resp.StatusCode, raw)
			}
			for _, it := range items {
				for _, k := range []string{"id", "domain_id", "issuer", "client_id", "client_secret_ref",
					"discovery_url", "jit_policy", "status", "created_at", "updated_at"} {
					if v, ok := it[k]; !ok || v == nil || v == "" {
						t.Fatalf("item lacks required %s: %s", k, raw)
					}
				}
			}
			if resp.Header.Get("X-Next-Cursor") != "" || resp.Header.Get("Link") != "" {
				t.Fatalf("last page names a next page: %v", resp.Header)
			}

			// Paging: two pages of two and one.
			resp, raw = f.Send(t, f.Token, "GET", "/v1/admin/idp?limit=2")
			var page1 []apiv1.IdPBinding
			next := resp.Header.Get("X-Next-Cursor")
			link := resp.Header.Get("Link")
			if json.Unmarshal(raw, &page1) != nil || len(page1) != 2 || next == "" ||
				!strings.HasPrefix(link, "</v1/admin/idp?") || !strings.HasSuffix(link, `>; rel="next"`) {
				t.Fatalf("first page: %s %v", raw, resp.Header)
			}
			resp, raw = f.Send(t, f.Token, "GET", strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
			var page2 []apiv1.IdPBinding
			if resp.StatusCode != 200 || json.Unmarshal(raw, &page2) != nil || len(page2) != 1 ||
				page2[0].ID == page1[0].ID || page2[0].ID == page1[1].ID || resp.Header.Get("Link") != "" {
				t.Fatalf("page after Link: %d %s %v", resp.StatusCode, raw, resp.Header)
			}

			// apiclient pages through the headers.
			c := adminClient(t, f)
			all, err := apiclient.Collect(t.Context(), apiclient.ListOptions{Limit: 1},
				func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.IdPBinding], error) {
					return c.ListIdPBindingsPage(ctx, "", o)
				})
			if err != nil || len(all) != 3 {
				t.Fatalf("apiclient collect: %v %d", err, len(all))
			}
			for _, it := range all {
				if it.CreatedAt.IsZero() || it.CreatedAt.After(time.Now().Add(time.Minute)) {
					t.Fatalf("binding timestamps: %+v", it)
				}
			}
		})
	}
}

// Issue 8, found by the conformance suite: a platform-scoped binding (our
// addition) was sent with domain_id null on the contract's IdP operations,
// where domain_id is a required, non-null string. It is now "" on create,
// read and list.
func TestIssue8PlatformBindingDomainIDString(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			created := f.Bind(t, f.Issuer(t, nil), apiv1.CreateIdPBinding{})
			check := func(what string, raw []byte, obj map[string]any) {
				t.Helper()
				if d, ok := obj["domain_id"].(string); !ok || d != "" {
					t.Fatalf("%s: domain_id is not the empty string: %s", what, raw)
				}
			}
			resp, raw := f.Send(t, f.Token, "GET", "/v1/admin/idp/"+created.ID)
			var one map[string]any
			if resp.StatusCode != 200 || json.Unmarshal(raw, &one) != nil {
				t.Fatalf("get: %d %s", resp.StatusCode, raw)
			}
			check("get", raw, one)
			resp, raw = f.Send(t, f.Token, "GET", "/v1/admin/idp")
			var all []map[string]any
			if resp.StatusCode != 200 || json.Unmarshal(raw, &all) != nil || len(all) != 1 {
				t.Fatalf("list: %d %s", resp.StatusCode, raw)
			}
			check("list", raw, all[0])
		})
	}
}
