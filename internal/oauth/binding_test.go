package oauth_test

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestBindingDeleteEndsLogins: a device login lives only as long as the
// IdP binding it came through, like the browser sessions of that binding.
func TestBindingDeleteEndsLogins(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			bnd := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			var dc apiv1.DeviceCode
			if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-code", apiv1.DeviceCodeRequest{DomainID: dom}, &dc); st != 200 {
				t.Fatalf("device-code: %d %s", st, raw)
			}
			if resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: dc.UserCode}, true, nil); resp.StatusCode != 200 {
				t.Fatalf("approve: %d %s", resp.StatusCode, raw)
			}
			var tok apiv1.AccessToken
			if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", apiv1.DeviceTokenRequest{DeviceCode: dc.DeviceCode}, &tok); st != 200 {
				t.Fatalf("token: %d %s", st, raw)
			}
			if st, _ := f.DoAs(t, tok.AccessToken, "GET", "/v1/auth/whoami", nil, nil); st != 200 {
				t.Fatalf("whoami: %d", st)
			}
			if st, raw := f.Do(t, "DELETE", "/v1/admin/idp/"+bnd.ID, nil, nil); st != 204 {
				t.Fatalf("delete binding: %d %s", st, raw)
			}
			if st, _ := f.DoAs(t, tok.AccessToken, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("access token after the binding's delete: %d", st)
			}
			st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", apiv1.DeviceTokenRequest{GrantType: "refresh_token", RefreshToken: tok.RefreshToken}, nil)
			if st != 400 || oidctest.ProblemCode(t, raw) != "invalid_grant" {
				t.Fatalf("refresh after the binding's delete: %d %s", st, raw)
			}
		})
	}
}
