package oidc_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestBrowserSignIn drives the real development OpenID Provider through
// plexsphere with a cookie jar: code + PKCE sign-in, the session cookie's
// attributes, whoami, identity keyed by (issuer, subject), sign-out.
func TestBrowserSignIn(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})

			br := f.Browser(t)
			started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom})
			if started.State == "" || started.Nonce == "" || started.CodeVerifierHandle == "" ||
				!strings.Contains(started.AuthorizationURL, "code_challenge_method=S256") ||
				strings.Contains(started.AuthorizationURL, "code_verifier") {
				t.Fatalf("sign-in answer: %+v", started)
			}
			cb := br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRBasic)
			resp, raw := br.Callback(t, cb, false)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Fatalf("callback: %d %s", resp.StatusCode, raw)
			}
			var sessionSet, csrfSet string
			for _, sc := range resp.Header.Values("Set-Cookie") {
				switch {
				case strings.HasPrefix(sc, "plexsphere_session="):
					sessionSet = sc
				case strings.HasPrefix(sc, "plexsphere_csrf="):
					csrfSet = sc
				}
			}
			for _, attr := range []string{"Path=/v1/", "HttpOnly", "SameSite=Strict"} {
				if !strings.Contains(sessionSet, attr) {
					t.Errorf("session cookie %q lacks %s", sessionSet, attr)
				}
			}
			if strings.Contains(sessionSet, "Secure") {
				t.Errorf("session cookie over plain HTTP is Secure: %q", sessionSet)
			}
			if csrfSet == "" || strings.Contains(csrfSet, "HttpOnly") || !strings.Contains(csrfSet, "SameSite=Strict") {
				t.Errorf("csrf cookie must be script-readable and strict: %q", csrfSet)
			}

			st, who := br.Whoami(t)
			if st != 200 || who.PrincipalType != "user" || who.DomainID != dom || who.ACR != devidp.ACRBasic || who.Email != "alice@example.test" ||
				len(who.AMR) != 1 || who.AMR[0] != "pwd" {
				t.Fatalf("whoami: %d %+v", st, who)
			}
			// Only a hash of the cookie value is stored.
			cookie := br.Cookie("plexsphere_session")
			var n int
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM sessions WHERE secret_hash = $1`, cookie).Scan(&n)
			if n != 0 {
				t.Fatal("the session cookie value is stored in plaintext")
			}
			// The identity is keyed by (issuer, subject); a second sign-in
			// finds it again.
			br2 := f.Browser(t)
			br2.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			if _, who2 := br2.Whoami(t); who2.Subject != who.Subject {
				t.Fatalf("second sign-in is another identity: %s vs %s", who2.Subject, who.Subject)
			}
			f.Server.DB.QueryRow(`SELECT COUNT(*) FROM identities WHERE idp_issuer = $1 AND idp_subject = 'alice'`, idp.Issuer()).Scan(&n)
			if n != 1 {
				t.Fatalf("identities for (issuer, alice): %d", n)
			}

			// Sign-out ends this session only and clears the cookie.
			resp, raw = br.Do(t, "DELETE", "/v1/auth/whoami", nil, false, nil)
			if resp.StatusCode != 204 || br.Cookie("plexsphere_session") != "" {
				t.Fatalf("sign-out: %d %s", resp.StatusCode, raw)
			}
			if st, _ := br.Whoami(t); st != 401 {
				t.Fatalf("whoami after sign-out: %d", st)
			}
			// Replaying the old cookie value does not work either.
			req, _ := http.NewRequest("GET", f.URL+"/v1/auth/whoami", nil)
			req.AddCookie(&http.Cookie{Name: "plexsphere_session", Value: cookie})
			if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
				t.Fatalf("signed-out cookie still works: %d", resp.StatusCode)
			}
			if st, _ := br2.Whoami(t); st != 200 {
				t.Fatalf("the other session ended too: %d", st)
			}
			// Sign-out without a session is still 204.
			if resp, _ := f.Browser(t).Do(t, "DELETE", "/v1/auth/whoami", nil, false, nil); resp.StatusCode != 204 {
				t.Fatalf("anonymous sign-out: %d", resp.StatusCode)
			}
			for _, secret := range []string{cookie, oidctest.ClientSecret, started.State} {
				if strings.Contains(f.Logs.String(), secret) {
					t.Fatalf("a secret reached the log: %q", secret)
				}
			}
		})
	}
}
