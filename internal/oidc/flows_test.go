package oidc_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestGroupsClaimGrantsAndRevokes shows the groups claim creating an
// IdP-synced group, the membership granting a project permission through a
// group#member grant, and the permission going away when the claim drops
// the group at the next sign-in.
func TestGroupsClaimGrantsAndRevokes(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			binding := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, ClaimMappings: map[string]string{"groups": "groups"}})
			var proj apiv1.Project
			if st, raw := f.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: dom, Name: "web", Slug: "web"}, &proj); st != 201 {
				t.Fatalf("create project: %d %s", st, raw)
			}

			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			if resp, raw := br.Do(t, "GET", "/v1/projects/"+proj.ID, nil, false, nil); resp.StatusCode != 403 {
				t.Fatalf("project read before any grant: %d %s", resp.StatusCode, raw)
			}
			var opsID string
			err := f.Server.DB.QueryRow(`SELECT id FROM principal_groups WHERE idp_binding_id = $1 AND idp_claim_value = 'ops'
				AND source = 'idp' AND domain_id = $2`, binding.ID, dom).Scan(&opsID)
			if err != nil {
				t.Fatalf("the ops group was not created: %v", err)
			}
			var groups int
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM principal_groups WHERE idp_binding_id = $1`, binding.ID).Scan(&groups)
			if groups != 2 {
				t.Fatalf("want the ops and dev team groups, got %d", groups)
			}
			// Grant the group (not alice) read on the project.
			grant := authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypeProject, ID: proj.ID}, Relation: "viewer",
				Subject: authz.ObjectRef{Type: authz.TypeGroup, ID: opsID}.Userset("member")}
			writeTuples(t, f, []authz.Tuple{grant})
			if resp, raw := br.Do(t, "GET", "/v1/projects/"+proj.ID, nil, false, nil); resp.StatusCode != 200 {
				t.Fatalf("project read through the ops group: %d %s", resp.StatusCode, raw)
			}

			// The IdP drops ops; the next sign-in removes the membership
			// and with it the permission.
			if err := idp.SetGroups("alice", []string{"dev team"}); err != nil {
				t.Fatal(err)
			}
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			if resp, raw := br.Do(t, "GET", "/v1/projects/"+proj.ID, nil, false, nil); resp.StatusCode != 403 {
				t.Fatalf("project read after the claim dropped ops: %d %s", resp.StatusCode, raw)
			}
			var members int
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM principal_group_members WHERE group_id = $1`, opsID).Scan(&members)
			if members != 0 {
				t.Fatalf("ops still has %d members", members)
			}
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM relation_tuples WHERE resource_type = 'group' AND resource_id = $1
				AND relation = 'member'`, opsID).Scan(&members)
			if members != 0 {
				t.Fatalf("ops still has %d member tuples", members)
			}
		})
	}
}

func writeTuples(t *testing.T, f *oidctest.Fixture, add []authz.Tuple) {
	t.Helper()
	ctx := context.Background()
	err := f.Server.DB.Tx(ctx, func(tx *sql.Tx) error { return f.Server.Tuples.Write(ctx, tx, add, nil) })
	if err == nil {
		err = f.Server.Tuples.Sync(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestCallbackRejections: wrong state, replayed state and code, a code
// redeemed with another flow's PKCE verifier, a tampered nonce, a flow
// finished in another browser, an expired ID token and one from a foreign
// issuer are all refused — as problems for JSON clients and as 303s to
// /?auth_error_kind=… for browsers — and none of them signs anyone in.
func TestCallbackRejections(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			expired := f.Issuer(t, func(c *devidp.Config) { c.IDTokenLifetime = -10 * time.Minute })
			var foreignIssuer string
			foreign := f.Issuer(t, func(c *devidp.Config) {
				foreignIssuer = c.Issuer
				c.IssuerForRequest = func(r *http.Request) string {
					if strings.HasPrefix(r.URL.Path, "/oauth/token") {
						return "http://127.0.0.1:1/another-provider"
					}
					return foreignIssuer
				}
			})
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			main := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, Primary: true})
			expiredB := f.Bind(t, expired, apiv1.CreateIdPBinding{DomainID: dom, Alias: "expired"})
			foreignB := f.Bind(t, foreign, apiv1.CreateIdPBinding{DomainID: dom})

			wantRefused := func(t *testing.T, br *oidctest.Browser, cb string, code string) {
				t.Helper()
				resp, raw := br.Callback(t, cb, true)
				if got := oidctest.ProblemCode(t, raw); resp.StatusCode >= 500 || resp.StatusCode < 400 || got != code {
					t.Fatalf("want %s, got %d %s", code, resp.StatusCode, raw)
				}
				if br.Cookie("plexsphere_session") != "" {
					t.Fatal("a refused callback set a session")
				}
			}

			t.Run("unknown state", func(t *testing.T) {
				br := f.Browser(t)
				wantRefused(t, br, f.URL+"/v1/auth/callback?code=abc&state=forged", "invalid_state")
				resp, _ := br.Callback(t, f.URL+"/v1/auth/callback?code=abc&state=forged", false)
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if resp.StatusCode != 303 || loc.Path != "/" || loc.Query().Get("auth_error_kind") != "invalid_state" ||
					loc.Query().Get("auth_error_status") != "400" || loc.Query().Get("auth_error_detail") == "" {
					t.Fatalf("browser error redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
				}
			})
			t.Run("replayed state and code", func(t *testing.T) {
				br := f.Browser(t)
				started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				cb := br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic)
				if resp, raw := br.Callback(t, cb, false); resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
					t.Fatalf("first use: %d %s", resp.StatusCode, raw)
				}
				attacker := f.Browser(t)
				wantRefused(t, attacker, cb, "state_replayed")
				// The same code under a fresh flow of the attacker's: the
				// provider refuses a code it already redeemed.
				fresh := attacker.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				u, _ := url.Parse(cb)
				wantRefused(t, attacker, f.URL+"/v1/auth/callback?code="+url.QueryEscape(u.Query().Get("code"))+
					"&state="+url.QueryEscape(fresh.State), "invalid_grant")
			})
			t.Run("wrong verifier", func(t *testing.T) {
				br := f.Browser(t)
				first := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				cb := br.Authorize(t, first.AuthorizationURL, "alice", devidp.ACRBasic)
				second := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				u, _ := url.Parse(cb)
				// The first flow's code under the second flow's state: the
				// code is redeemed with the second flow's verifier.
				wantRefused(t, br, f.URL+"/v1/auth/callback?code="+url.QueryEscape(u.Query().Get("code"))+
					"&state="+url.QueryEscape(second.State), "invalid_grant")
			})
			t.Run("wrong nonce", func(t *testing.T) {
				br := f.Browser(t)
				started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				cb := br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic)
				if _, err := f.Server.DB.Exec(`UPDATE oidc_flows SET nonce = 'not-the-requested-nonce' WHERE id = $1`,
					started.CodeVerifierHandle); err != nil {
					t.Fatal(err)
				}
				wantRefused(t, br, cb, "nonce_mismatch")
			})
			t.Run("another browser", func(t *testing.T) {
				br := f.Browser(t)
				started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				cb := br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic)
				wantRefused(t, f.Browser(t), cb, "flow_binding_mismatch")
				wantRefused(t, br, cb, "state_replayed")
			})
			t.Run("expired id token", func(t *testing.T) {
				br := f.Browser(t)
				started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom, IdPBindingAlias: "expired"})
				if !strings.HasPrefix(started.AuthorizationURL, expired.Issuer()) {
					t.Fatalf("alias resolved to the wrong IdP: %s", started.AuthorizationURL)
				}
				wantRefused(t, br, br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic), "id_token_expired")
			})
			t.Run("foreign issuer", func(t *testing.T) {
				br := f.Browser(t)
				started := br.StartSignIn(t, apiv1.SignIn{IdPBindingID: foreignB.ID})
				wantRefused(t, br, br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic), "id_token_invalid")
				if !strings.Contains(f.Logs.String(), "issued by a different provider") {
					t.Fatal("the refusal was not for the issuer")
				}
			})
			t.Run("expired flow", func(t *testing.T) {
				br := f.Browser(t)
				started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
				cb := br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic)
				if _, err := f.Server.DB.Exec(`UPDATE oidc_flows SET expires_at = 0 WHERE id = $1`, started.CodeVerifierHandle); err != nil {
					t.Fatal(err)
				}
				wantRefused(t, br, cb, "state_expired")
			})
			var n int
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE action = 'auth.sign_in' AND outcome = 'failed'`).Scan(&n)
			if n < 8 {
				t.Fatalf("refused sign-ins audited: %d", n)
			}
			if strings.Contains(f.Logs.String(), oidctest.ClientSecret) {
				t.Fatal("the client secret reached the log")
			}
			_, _ = main, expiredB
		})
	}
}

// TestJITDeny: a binding with jit_policy deny refuses unknown users but
// signs in users who already exist for its issuer.
func TestJITDeny(t *testing.T) {
	f := oidctest.Start(t, apptest.SQLite, true)
	idp := f.Issuer(t, nil)
	dom := f.Domain(t, "acme", "100.64.0.0/16")
	allow := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
	f.Browser(t).SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)
	if st, raw := f.Do(t, "DELETE", "/v1/admin/idp/"+allow.ID, nil, nil); st != 204 {
		t.Fatalf("delete: %d %s", st, raw)
	}
	f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, JITPolicy: "deny"})
	br := f.Browser(t)
	started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
	resp, raw := br.Callback(t, br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic), true)
	if resp.StatusCode != 400 || oidctest.ProblemCode(t, raw) != "jit_denied" {
		t.Fatalf("jit deny: %d %s", resp.StatusCode, raw)
	}
	var n int
	f.Server.DB.QueryRow(`SELECT COUNT(*) FROM identities WHERE idp_subject = 'alice'`).Scan(&n)
	if n != 0 {
		t.Fatal("a denied user was provisioned")
	}
	f.Browser(t).SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)
}
