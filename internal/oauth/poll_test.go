package oauth_test

import (
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestDeviceFlowErrors walks the RFC 8628 poll answers and the approval
// conflicts over raw HTTP, then refresh-token rotation with reuse
// detection.
func TestDeviceFlowErrors(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "bob", devidp.ACRBasic)

			start := func() apiv1.DeviceCode {
				t.Helper()
				var dc apiv1.DeviceCode
				if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-code", apiv1.DeviceCodeRequest{DomainID: dom}, &dc); st != 200 {
					t.Fatalf("device-code: %d %s", st, raw)
				}
				return dc
			}
			poll := func(in apiv1.DeviceTokenRequest) (int, string, apiv1.AccessToken) {
				t.Helper()
				var tok apiv1.AccessToken
				st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", in, &tok)
				return st, oidctest.ProblemCode(t, raw), tok
			}
			approve := func(code string, deny bool) (int, string) {
				t.Helper()
				resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: code, Deny: deny}, true, nil)
				return resp.StatusCode, oidctest.ProblemCode(t, raw)
			}

			dc := start()
			if !userCodeRE.MatchString(dc.UserCode) || dc.VerificationURI != f.URL+"/device" || dc.ExpiresIn != 600 ||
				dc.Interval != 5 || !strings.HasPrefix(dc.VerificationURIComplete, dc.VerificationURI+"?") || !strings.Contains(dc.VerificationURIComplete, "user_code="+dc.UserCode) {
				t.Fatalf("device code answer: %+v", dc)
			}
			for _, c := range []struct {
				body apiv1.DeviceCodeRequest
				st   int
				code string
			}{
				{apiv1.DeviceCodeRequest{DomainID: "nope"}, 400, "invalid_domain_id"},
				{apiv1.DeviceCodeRequest{DomainID: "0190c0de-0000-7000-8000-000000000000"}, 404, "binding_not_found"},
				{apiv1.DeviceCodeRequest{DomainID: dom, IdPBindingAlias: "missing"}, 404, "binding_not_found"},
			} {
				if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-code", c.body, nil); st != c.st || oidctest.ProblemCode(t, raw) != c.code {
					t.Fatalf("device-code %+v: %d %s", c.body, st, raw)
				}
			}

			// Polls before approval: pending, then slow_down when too fast.
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: "psdc_unknown"}); st != 400 || code != "invalid_grant" {
				t.Fatalf("unknown device code: %d %s", st, code)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode}); st != 400 || code != "authorization_pending" {
				t.Fatalf("first poll: %d %s", st, code)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode}); st != 400 || code != "slow_down" {
				t.Fatalf("fast poll: %d %s", st, code)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode, ClientID: "other"}); st != 400 || code != "invalid_grant" {
				t.Fatalf("other client: %d %s", st, code)
			}

			// Denied: access_denied once, then the code is spent.
			denied := start()
			if st, code := approve(denied.UserCode, true); st != 200 {
				t.Fatalf("deny: %d %s", st, code)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: denied.DeviceCode}); st != 400 || code != "access_denied" {
				t.Fatalf("denied poll: %d %s", st, code)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: denied.DeviceCode}); st != 400 || code != "invalid_grant" {
				t.Fatalf("poll after denial: %d %s", st, code)
			}

			// Expired: approval conflicts, the poll says expired_token.
			expired := start()
			if _, err := f.Server.DB.Exec(`UPDATE device_authorizations SET expires_at = 1 WHERE user_code = $1`,
				strings.ReplaceAll(expired.UserCode, "-", "")); err != nil {
				t.Fatal(err)
			}
			if st, code := approve(expired.UserCode, false); st != 409 || code != "device_code_expired" {
				t.Fatalf("approve expired: %d %s", st, code)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: expired.DeviceCode}); st != 400 || code != "expired_token" {
				t.Fatalf("expired poll: %d %s", st, code)
			}

			// Approved: one token pair, then the code is spent.
			if st, code := approve(dc.UserCode, false); st != 200 {
				t.Fatalf("approve: %d %s", st, code)
			}
			st, code, tok := poll(apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode})
			if st != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || !strings.HasPrefix(tok.AccessToken, "psa_") ||
				!strings.HasPrefix(tok.RefreshToken, "psr_") {
				t.Fatalf("token: %d %s %+v", st, code, tok)
			}
			if st, code, _ := poll(apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode}); st != 400 || code != "invalid_grant" {
				t.Fatalf("second redemption: %d %s", st, code)
			}
			var who apiv1.Whoami
			if st, raw := f.DoAs(t, tok.AccessToken, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.PrincipalType != "user" {
				t.Fatalf("whoami: %d %s", st, raw)
			}
			if _, bob := br.Whoami(t); bob.Subject != who.Subject {
				t.Fatalf("token identity %s, approver %s", who.Subject, bob.Subject)
			}

			// Refresh rotates both tokens; replaying the old refresh token
			// revokes the whole login.
			refresh := apiv1.DeviceTokenRequest{GrantType: apiv1.GrantRefreshToken, RefreshToken: tok.RefreshToken}
			st, code, tok2 := poll(refresh)
			if st != 200 || tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %d %s", st, code)
			}
			if st, _ := f.DoAs(t, tok.AccessToken, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("rotated-away access token: %d", st)
			}
			if st, code, _ := poll(refresh); st != 400 || code != "invalid_grant" {
				t.Fatalf("refresh reuse: %d %s", st, code)
			}
			if st, _ := f.DoAs(t, tok2.AccessToken, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("access token after reuse detection: %d", st)
			}
			// The approval and the issuance are on the Domain's chain, the
			// issuance under the approving user's pseudonym.
			var entries apiv1.AuditList
			if st, raw := f.Do(t, "GET", "/v1/domains/"+dom+"/audit/entries?limit=200", nil, &entries); st != 200 {
				t.Fatalf("audit: %d %s", st, raw)
			}
			seen := map[string]apiv1.AuditEntry{}
			for _, en := range entries.Items {
				if en.Outcome == "succeeded" {
					seen[en.Action+" "+en.Object.Type] = en
				}
			}
			approved, issued := seen["auth.device_approve device_authorization"], seen["auth.device_token device_authorization"]
			refreshed := seen["auth.device_token oauth_token"]
			if approved.Subject.Pseudonym == "" || issued.Subject.Pseudonym != approved.Subject.Pseudonym ||
				refreshed.Subject.Pseudonym != approved.Subject.Pseudonym {
				t.Fatalf("audit entries: approve %+v, token %+v, refresh %+v", approved, issued, refreshed)
			}
			f.NoSecrets(t, dc.DeviceCode, denied.DeviceCode, tok.AccessToken, tok.RefreshToken, tok2.AccessToken, tok2.RefreshToken)
		})
	}
}
