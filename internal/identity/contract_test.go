package identity_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// Issue 8 rows "GET /v1/auth/tokens": the contract's client decodes a bare
// array (we sent {items, next_cursor}) and requires a date-time expires_at
// on every token (we omitted it on the break-glass token, which never
// expires). The list is a bare array; the never-expiring token carries
// expires_at 9999-12-31T23:59:59Z and never_expires; paging continues in
// X-Next-Cursor / Link rel="next", which apiclient follows.
func TestIssue8TokenListBareArray(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			for range 2 {
				if st, raw := e.Do(t, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: 3600}, nil); st != 201 {
					t.Fatalf("issue: %d %s", st, raw)
				}
			}
			resp, raw := e.Send(t, e.Token, "GET", "/v1/auth/tokens")
			var items []map[string]any
			if resp.StatusCode != 200 || json.Unmarshal(raw, &items) != nil || len(items) != 3 {
				t.Fatalf("list is not a bare array of 3: %d %s", resp.StatusCode, raw)
			}
			never := 0
			for _, it := range items {
				for _, k := range []string{"id", "env_prefix", "created_at", "expires_at"} {
					if _, ok := it[k].(string); !ok {
						t.Fatalf("item lacks required %s: %s", k, raw)
					}
				}
				exp, err := time.Parse(time.RFC3339, it["expires_at"].(string))
				if err != nil {
					t.Fatalf("expires_at is not a date-time: %s", raw)
				}
				if it["never_expires"] == true {
					never++
					if !exp.Equal(apiv1.NeverExpires) {
						t.Fatalf("never-expiring token: %s", raw)
					}
				}
			}
			if never != 1 {
				t.Fatalf("the break-glass token is not marked never_expires: %s", raw)
			}
			if resp.Header.Get("Link") != "" || resp.Header.Get("X-Next-Cursor") != "" {
				t.Fatalf("single page names a next page: %v", resp.Header)
			}

			resp, raw = e.Send(t, e.Token, "GET", "/v1/auth/tokens?limit=2")
			link, next := resp.Header.Get("Link"), resp.Header.Get("X-Next-Cursor")
			var page1 []apiv1.APIToken
			if json.Unmarshal(raw, &page1) != nil || len(page1) != 2 || next == "" ||
				link != `</v1/auth/tokens?cursor=`+next+`&limit=2>; rel="next"` {
				t.Fatalf("first page: %s %v", raw, resp.Header)
			}
			resp, raw = e.Send(t, e.Token, "GET", strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
			var page2 []apiv1.APIToken
			if resp.StatusCode != 200 || json.Unmarshal(raw, &page2) != nil || len(page2) != 1 || resp.Header.Get("Link") != "" {
				t.Fatalf("page after Link: %d %s %v", resp.StatusCode, raw, resp.Header)
			}

			c, err := apiclient.New(apiclient.Options{BaseURL: e.URL, Token: e.Token})
			if err != nil {
				t.Fatal(err)
			}
			all, err := apiclient.Collect(t.Context(), apiclient.ListOptions{Limit: 1}, c.ListTokens)
			if err != nil || len(all) != 3 {
				t.Fatalf("apiclient collect: %v %d", err, len(all))
			}
		})
	}
}

// Issue 8 row "GET /v1/auth/whoami": principal_type was service_identity
// where the contract's enum has service. A service identity's whoami now
// says service, and POST /v1/auth/tokens accepts the contract's
// identity_ref spelling service:<id> for the caller.
func TestIssue8WhoamiServicePrincipalType(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			id, tok := e.NewUser(t, "robot")
			if _, err := e.Server.DB.Exec(`UPDATE identities SET kind = 'service_identity' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			// No IdP stands behind this test token: let it pass step-up.
			if _, err := e.Server.DB.Exec(`UPDATE api_tokens SET break_glass = TRUE WHERE identity_id = $1`, id); err != nil {
				t.Fatal(err)
			}
			var who apiv1.Whoami
			if st, raw := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.PrincipalType != "service" {
				t.Fatalf("whoami: %d %s", st, raw)
			}
			var issued apiv1.IssuedToken
			if st, raw := e.DoAs(t, tok, "POST", "/v1/auth/tokens",
				apiv1.IssueToken{IdentityRef: "service:" + id, EnvPrefix: "dev", TTLSeconds: 60}, &issued); st != 201 ||
				issued.ExpiresAt == nil {
				t.Fatalf("issue with the contract's identity_ref: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, tok, "POST", "/v1/auth/tokens",
				apiv1.IssueToken{IdentityRef: "user:" + id, EnvPrefix: "dev"}, nil); st != 403 {
				t.Fatalf("issue naming the wrong kind: %d %s", st, raw)
			}
			if st, raw := e.Do(t, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.PrincipalType != "user" {
				t.Fatalf("user whoami: %d %s", st, raw)
			}
		})
	}
}

// Issue 8 row "expires_at" on rotation: rotating the never-expiring
// break-glass token answered without expires_at (required by the
// contract's rotate response). It now carries the far-future sentinel.
func TestIssue8RotateNeverExpiring(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			var list []apiv1.APIToken
			if st, raw := e.Do(t, "GET", "/v1/auth/tokens", nil, &list); st != 200 || len(list) != 1 {
				t.Fatalf("list: %d %s", st, raw)
			}
			resp, raw := e.Send(t, e.Token, "POST", "/v1/auth/tokens/"+list[0].ID+"/rotate")
			var got map[string]any
			if resp.StatusCode != 200 || json.Unmarshal(raw, &got) != nil || resp.Header.Get("Sunset") == "" {
				t.Fatalf("rotate: %d %s", resp.StatusCode, raw)
			}
			for _, k := range []string{"id", "plaintext", "env_prefix", "expires_at", "rotation_deadline"} {
				if _, ok := got[k].(string); !ok {
					t.Fatalf("rotate answer lacks %s", k)
				}
			}
			if exp, err := time.Parse(time.RFC3339, got["expires_at"].(string)); err != nil || !exp.Equal(apiv1.NeverExpires) {
				t.Fatalf("rotate expires_at: %v %v", got["expires_at"], err)
			}
		})
	}
}
