package oauth_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// deviceLogin runs a device login for domain approved by br and returns
// the approval's status and problem code, and the token pair when it was
// approved.
func deviceLogin(t *testing.T, f *oidctest.Fixture, br *oidctest.Browser, domain string) (int, string, apiv1.AccessToken) {
	t.Helper()
	var dc apiv1.DeviceCode
	if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-code", apiv1.DeviceCodeRequest{DomainID: domain}, &dc); st != 200 {
		t.Fatalf("device-code: %d %s", st, raw)
	}
	resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: dc.UserCode}, true, nil)
	if resp.StatusCode != 200 {
		return resp.StatusCode, oidctest.ProblemCode(t, raw), apiv1.AccessToken{}
	}
	var tok apiv1.AccessToken
	if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode}, &tok); st != 200 {
		t.Fatalf("device-token: %d %s", st, raw)
	}
	return 200, "", tok
}

// issueAs issues a psk_ token with the bearer credential tok.
func issueAs(t *testing.T, f *oidctest.Fixture, tok string, ttl time.Duration) apiv1.IssuedToken {
	t.Helper()
	var out apiv1.IssuedToken
	if st, raw := f.DoAs(t, tok, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: int64(ttl / time.Second)}, &out); st != 201 || out.ExpiresAt == nil {
		t.Fatalf("issue: %d %s", st, raw)
	}
	return out
}

// issueInBrowser issues a psk_ token with br's session.
func issueInBrowser(t *testing.T, br *oidctest.Browser, ttl time.Duration) apiv1.IssuedToken {
	t.Helper()
	var out apiv1.IssuedToken
	resp, raw := br.Do(t, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: int64(ttl / time.Second)}, true, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("issue in the browser: %d %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.ExpiresAt == nil {
		t.Fatalf("issue in the browser: %v %s", err, raw)
	}
	return out
}

const year = 365 * 24 * time.Hour

// TestDeviceLoginStepUp: Issue 7 row 3. Approving a device login is a
// step-up operation: a session that fails the binding's required_acr is
// refused with step_up_required. Every credential derived from a session
// (the device login, its refreshed tokens, the psk_ tokens minted from
// them) carries the session's acr and is checked against the binding on
// sensitive operations: a device login from a weak sign-in cannot issue a
// psk_ or rotate signing keys, even after a refresh.
func TestDeviceLoginStepUp(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom, RequiredACR: []string{devidp.ACRMFA}})
			weak, strong := f.Browser(t), f.Browser(t)
			weak.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			strong.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRMFA)
			_, alice := weak.Whoami(t)
			grantDomainAdmin(t, f, alice.Subject, dom)

			if st, code, _ := deviceLogin(t, f, weak, dom); st != 401 || code != "step_up_required" {
				t.Fatalf("weak session approves a device login: %d %s", st, code)
			}
			st, code, tok := deviceLogin(t, f, strong, dom)
			if st != 200 {
				t.Fatalf("strong session approves: %d %s", st, code)
			}
			var who apiv1.Whoami
			if st, raw := f.DoAs(t, tok.AccessToken, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.ACR != devidp.ACRMFA {
				t.Fatalf("device login whoami: %d %s", st, raw)
			}
			psk := issueAs(t, f, tok.AccessToken, time.Hour)
			if st, raw := f.DoAs(t, psk.Plaintext, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.ACR != devidp.ACRMFA {
				t.Fatalf("psk_ from the device login: %d %s", st, raw)
			}
			if st, raw := f.DoAs(t, psk.Plaintext, "POST", "/v1/domains/"+dom+"/signing-keys:rotate", apiv1.RotateSigningKey{GraceSeconds: 3600}, nil); st/100 != 2 {
				t.Fatalf("strong psk_ rotates signing keys: %d %s", st, raw)
			}

			// A device login from a weak sign-in: approved while the binding
			// asked for nothing, then the binding tightened.
			dom2 := f.Domain(t, "beta", "100.65.0.0/16")
			bnd2 := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom2})
			weak2 := f.Browser(t)
			weak2.SignIn(t, apiv1.SignIn{DomainID: dom2}, "bob", devidp.ACRBasic)
			_, bob := weak2.Whoami(t)
			grantDomainAdmin(t, f, bob.Subject, dom2)
			st, code, weakTok := deviceLogin(t, f, weak2, dom2)
			if st != 200 {
				t.Fatalf("approve without requirements: %d %s", st, code)
			}
			if _, err := f.Server.DB.Exec(`UPDATE idp_bindings SET required_acr = $2 WHERE id = $1`, bnd2.ID,
				`["`+devidp.ACRMFA+`"]`); err != nil {
				t.Fatal(err)
			}
			refresh := func() string {
				t.Helper()
				var refreshed apiv1.AccessToken
				if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", apiv1.DeviceTokenRequest{GrantType: apiv1.GrantRefreshToken,
					RefreshToken: weakTok.RefreshToken}, &refreshed); st != 200 || refreshed.AccessToken == weakTok.AccessToken {
					t.Fatalf("refresh: %d %s", st, raw)
				}
				return refreshed.AccessToken
			}
			for _, access := range []func() string{func() string { return weakTok.AccessToken }, refresh} {
				access := access()
				if st, raw := f.DoAs(t, access, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: 3600}, nil); st != 401 || oidctest.ProblemCode(t, raw) != "step_up_required" {
					t.Fatalf("weak device login issues a psk_: %d %s", st, raw)
				}
				if st, raw := f.DoAs(t, access, "POST", "/v1/domains/"+dom2+"/signing-keys:rotate", apiv1.RotateSigningKey{GraceSeconds: 3600}, nil); st != 401 || oidctest.ProblemCode(t, raw) != "step_up_required" {
					t.Fatalf("weak device login rotates signing keys: %d %s", st, raw)
				}
				if st, raw := f.DoAs(t, access, "GET", "/v1/auth/whoami", nil, nil); st != 200 {
					t.Fatalf("weak device login reads: %d %s", st, raw)
				}
			}
		})
	}
}

// TestDerivedTokensEndWithTheirLogin: Issue 7 row 15. A psk_ token minted by
// a browser session or a device login expires no later than it and is
// revoked with it: by signing the session out, by revoking the device login
// (RFC 7009), and by global sign-out, which also ends the caller's device
// logins; tokens minted by those tokens go too.
func TestDerivedTokensEndWithTheirLogin(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
			laptop, phone, bob := f.Browser(t), f.Browser(t), f.Browser(t)
			laptop.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			phone.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			bob.SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)
			works := func(tok string) bool {
				t.Helper()
				st, _ := f.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil)
				return st == 200
			}

			// Lifetimes: a session lives 12h, a device login's refresh
			// window 30 days; a year asked for is cut to those.
			fromLaptop := issueInBrowser(t, laptop, year)
			if lim := time.Now().Add(12*time.Hour + time.Minute); fromLaptop.ExpiresAt.After(lim) {
				t.Fatalf("psk_ from a session expires %v, after its session", fromLaptop.ExpiresAt)
			}
			grandchild := issueAs(t, f, fromLaptop.Plaintext, year)
			if grandchild.ExpiresAt.After(*fromLaptop.ExpiresAt) {
				t.Fatalf("grandchild expires %v after its parent %v", grandchild.ExpiresAt, fromLaptop.ExpiresAt)
			}
			fromPhone := issueInBrowser(t, phone, time.Hour)
			fromBob := issueInBrowser(t, bob, time.Hour)
			_, _, dev1 := deviceLogin(t, f, laptop, dom)
			fromDev1 := issueAs(t, f, dev1.AccessToken, year)
			if lim := time.Now().Add(30*24*time.Hour + time.Minute); fromDev1.ExpiresAt.After(lim) {
				t.Fatalf("psk_ from a device login expires %v, after the login", fromDev1.ExpiresAt)
			}
			fromDev1Child := issueAs(t, f, fromDev1.Plaintext, time.Hour)
			_, _, dev2 := deviceLogin(t, f, phone, dom)
			fromDev2 := issueAs(t, f, dev2.AccessToken, time.Hour)

			// Device-login revoke (plexctl logout) ends its psk_ tokens.
			if st, raw := f.DoAs(t, "", "POST", "/v1/auth/revoke", apiv1.RevokeToken{Token: dev1.RefreshToken}, nil); st/100 != 2 {
				t.Fatalf("revoke device login: %d %s", st, raw)
			}
			for name, tok := range map[string]string{"access": dev1.AccessToken, "psk_": fromDev1.Plaintext, "its child": fromDev1Child.Plaintext} {
				if works(tok) {
					t.Fatalf("%s survived the device-login revoke", name)
				}
			}
			if !works(fromLaptop.Plaintext) || !works(dev2.AccessToken) || !works(fromDev2.Plaintext) {
				t.Fatal("a revoke ended unrelated credentials")
			}

			// Signing one session out ends what it minted.
			if resp, raw := phone.Do(t, "DELETE", "/v1/auth/whoami", nil, false, nil); resp.StatusCode != 204 {
				t.Fatalf("sign out: %d %s", resp.StatusCode, raw)
			}
			if works(fromPhone.Plaintext) {
				t.Fatal("psk_ survived signing its session out")
			}
			if !works(fromLaptop.Plaintext) {
				t.Fatal("signing one session out ended another's token")
			}

			// Global sign-out ends every session, device login and what
			// they minted; another user's are untouched.
			if resp, raw := laptop.Do(t, "POST", "/v1/auth/sign-out/global", nil, true, nil); resp.StatusCode != 204 {
				t.Fatalf("global sign-out: %d %s", resp.StatusCode, raw)
			}
			for name, tok := range map[string]string{"laptop psk_": fromLaptop.Plaintext, "grandchild": grandchild.Plaintext,
				"device login": dev2.AccessToken, "device psk_": fromDev2.Plaintext} {
				if works(tok) {
					t.Fatalf("%s survived global sign-out", name)
				}
			}
			if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", apiv1.DeviceTokenRequest{GrantType: apiv1.GrantRefreshToken,
				RefreshToken: dev2.RefreshToken}, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_grant" {
				t.Fatalf("refresh after global sign-out: %d %s", st, raw)
			}
			if !works(fromBob.Plaintext) {
				t.Fatal("global sign-out ended another user's token")
			}
		})
	}
}

func grantDomainAdmin(t *testing.T, f *oidctest.Fixture, subject, domain string) {
	t.Helper()
	if st, raw := f.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: subject, Relation: "admin",
		Resource: "domain:" + domain}, nil); st != 201 {
		t.Fatalf("grant domain admin: %d %s", st, raw)
	}
}
