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

// TestStepUpAndCSRF: cookie mutations need the allowed Origin and the
// double-submit header; a sensitive operation (API-token issue) refuses a
// session without the binding's required acr with the RFC 9470 challenge,
// and succeeds after re-authentication with it.
func TestStepUpAndCSRF(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, RequiredACR: []string{devidp.ACRMFA}, RequiredAMR: []string{"otp"}})
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			issue := apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: 600}

			// CSRF: a cookie mutation without the header, with a wrong one,
			// or from a foreign Origin is refused before anything else.
			for _, c := range []struct {
				name string
				hdr  map[string]string
				code string
			}{
				{"no header", map[string]string{"Origin": f.URL}, "csrf_token_mismatch"},
				{"wrong header", map[string]string{"Origin": f.URL, "X-Plexsphere-CSRF": "forged"}, "csrf_token_mismatch"},
				{"foreign origin", map[string]string{"Origin": "https://evil.example", "X-Plexsphere-CSRF": br.Cookie("plexsphere_csrf")}, "csrf_origin_mismatch"},
				{"no origin", map[string]string{"X-Plexsphere-CSRF": br.Cookie("plexsphere_csrf")}, "csrf_origin_mismatch"},
				{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "X-Plexsphere-CSRF": br.Cookie("plexsphere_csrf")}, "csrf_origin_mismatch"},
			} {
				resp, raw := br.Do(t, "POST", "/v1/auth/tokens", issue, false, c.hdr)
				if resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != c.code {
					t.Fatalf("%s: %d %s", c.name, resp.StatusCode, raw)
				}
			}
			// The CSRF cookie of another session does not fit this one.
			other := f.Browser(t)
			other.SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)
			resp, raw := br.Do(t, "POST", "/v1/auth/tokens", issue, false, map[string]string{"Origin": f.URL,
				"X-Plexsphere-CSRF": other.Cookie("plexsphere_csrf"), "Cookie": "plexsphere_csrf=" + other.Cookie("plexsphere_csrf")})
			if resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != "csrf_token_mismatch" {
				t.Fatalf("foreign csrf token: %d %s", resp.StatusCode, raw)
			}

			// Step-up: CSRF passes, the session's acr does not.
			resp, raw = br.Do(t, "POST", "/v1/auth/tokens", issue, true, nil)
			chal := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != 401 || oidctest.ProblemCode(t, raw) != "step_up_required" ||
				!strings.Contains(chal, `error="insufficient_user_authentication"`) || !strings.Contains(chal, `acr_values="`+devidp.ACRMFA+`"`) {
				t.Fatalf("step-up challenge: %d %q %s", resp.StatusCode, chal, raw)
			}
			// Same-origin fetch metadata stands in for Origin.
			resp, raw = br.Do(t, "POST", "/v1/auth/tokens", issue, false, map[string]string{"Sec-Fetch-Site": "same-origin",
				"X-Plexsphere-CSRF": br.Cookie("plexsphere_csrf")})
			if resp.StatusCode != 401 || oidctest.ProblemCode(t, raw) != "step_up_required" {
				t.Fatalf("same-origin fetch: %d %s", resp.StatusCode, raw)
			}
			// Reads need no CSRF and no step-up.
			if resp, raw := br.Do(t, "GET", "/v1/auth/tokens", nil, false, nil); resp.StatusCode != 200 {
				t.Fatalf("cookie read: %d %s", resp.StatusCode, raw)
			}

			// Re-authenticate with the required acr; the same call succeeds.
			oldCSRF := br.Cookie("plexsphere_csrf")
			started := br.StartSignIn(t, apiv1.SignIn{DomainID: dom, ACRValues: []string{devidp.ACRMFA}})
			if !strings.Contains(started.AuthorizationURL, "acr_values=") {
				t.Fatalf("acr_values not requested: %s", started.AuthorizationURL)
			}
			cb := br.Authorize(t, started.AuthorizationURL, "alice", devidp.ACRMFA)
			if resp, raw := br.Callback(t, cb, false); resp.StatusCode != 303 {
				t.Fatalf("step-up sign-in: %d %s", resp.StatusCode, raw)
			}
			if br.Cookie("plexsphere_csrf") == oldCSRF {
				t.Fatal("the CSRF cookie was not rotated at sign-in")
			}
			if st, who := br.Whoami(t); st != 200 || who.ACR != devidp.ACRMFA {
				t.Fatalf("whoami after step-up: %d %+v", st, who)
			}
			var issued apiv1.IssuedToken
			resp, raw = br.Do(t, "POST", "/v1/auth/tokens", issue, true, nil)
			if resp.StatusCode != 201 || !strings.Contains(string(raw), "psk_dev_") {
				t.Fatalf("issue after step-up: %d %s", resp.StatusCode, raw)
			}
			_ = issued
			// Bearer callers are not subject to CSRF or session step-up.
			if st, raw := f.Do(t, "POST", "/v1/auth/tokens", issue, nil); st != 201 {
				t.Fatalf("bearer issue: %d %s", st, raw)
			}
		})
	}
}

// TestCSRFFailsClosed: without allowed_origins every cookie mutation is
// refused with csrf_origin_not_configured, even a same-origin one.
func TestCSRFFailsClosed(t *testing.T) {
	f := oidctest.Start(t, apptest.SQLite, false)
	idp := f.Issuer(t, nil)
	dom := f.Domain(t, "acme", "100.64.0.0/16")
	f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
	br := f.Browser(t)
	br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
	resp, raw := br.Do(t, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev"}, true,
		map[string]string{"Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != "csrf_origin_not_configured" {
		t.Fatalf("cookie POST without allowed_origins: %d %s", resp.StatusCode, raw)
	}
	if st, _ := br.Whoami(t); st != 200 {
		t.Fatalf("cookie read: %d", st)
	}
}

// TestGlobalSignOut ends every session of the caller; an API token, even
// carried in the cookie, may not.
func TestGlobalSignOut(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
			laptop, phone, bob := f.Browser(t), f.Browser(t), f.Browser(t)
			for _, br := range []*oidctest.Browser{laptop, phone} {
				br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			}
			bob.SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)

			// The admin's psk_ token in the cookie authenticates, needs
			// CSRF for changes, and cannot end sessions.
			tokenJar := f.Browser(t)
			req, _ := http.NewRequest("POST", f.URL+"/v1/auth/sign-out/global", nil)
			req.AddCookie(&http.Cookie{Name: "plexsphere_session", Value: f.Token})
			req.AddCookie(&http.Cookie{Name: "plexsphere_csrf", Value: "t0k"})
			req.Header.Set("Origin", f.URL)
			req.Header.Set("X-Plexsphere-CSRF", "t0k")
			if resp, raw := tokenJar.Send(t, req); resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != "session_required" {
				t.Fatalf("global sign-out with a token: %d %s", resp.StatusCode, raw)
			}
			req, _ = http.NewRequest("GET", f.URL+"/v1/auth/whoami", nil)
			req.AddCookie(&http.Cookie{Name: "plexsphere_session", Value: f.Token})
			if resp, raw := tokenJar.Send(t, req); resp.StatusCode != 200 {
				t.Fatalf("psk_ token in the cookie: %d %s", resp.StatusCode, raw)
			}
			if st, raw := f.Do(t, "POST", "/v1/auth/sign-out/global", nil, nil); st != 403 {
				t.Fatalf("global sign-out with a bearer token: %d %s", st, raw)
			}

			if resp, raw := laptop.Do(t, "POST", "/v1/auth/sign-out/global", nil, true, nil); resp.StatusCode != 204 {
				t.Fatalf("global sign-out: %d %s", resp.StatusCode, raw)
			}
			for name, br := range map[string]*oidctest.Browser{"laptop": laptop, "phone": phone} {
				if st, _ := br.Whoami(t); st != 401 {
					t.Fatalf("%s session survived global sign-out: %d", name, st)
				}
			}
			if st, _ := bob.Whoami(t); st != 200 {
				t.Fatalf("another user's session ended: %d", st)
			}
		})
	}
}
