package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// TestSecurityDeclarations: the served document declares the credentials
// api.md §2.2.2 gives the device flow, the token endpoints and the
// service-identity operations.
func TestSecurityDeclarations(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	resp, err := http.Get(e.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Security    []map[string][]string `json:"security"`
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	public := []map[string][]string{}
	cookieCSRF := []map[string][]string{{"sessionCookie": {}, "csrfToken": {}}}
	opRead := []map[string][]string{{"sessionCookie": {}}, {"operatorBearer": {}}}
	opWrite := []map[string][]string{{"sessionCookie": {}, "csrfToken": {}}, {"operatorBearer": {}}}
	for _, c := range []struct {
		path, method string
		want         []map[string][]string
	}{
		{"/v1/auth/device-code", "post", public},
		{"/v1/auth/device-token", "post", public},
		{"/v1/auth/revoke", "post", public},
		{"/v1/auth/service/token", "post", public},
		{"/v1/auth/device/approve", "post", cookieCSRF},
		{"/v1/domains/{id}/service-identities", "get", opRead},
		{"/v1/domains/{id}/service-identities", "post", opWrite},
		{"/v1/domains/{id}/service-identities/{service_identity_id}", "get", opRead},
		{"/v1/domains/{id}/service-identities/{service_identity_id}", "patch", opWrite},
		{"/v1/domains/{id}/service-identities/{service_identity_id}", "delete", opWrite},
	} {
		op, ok := doc.Paths[c.path][c.method]
		if !ok {
			t.Errorf("%s %s is not documented", c.method, c.path)
			continue
		}
		if !reflect.DeepEqual(op.Security, c.want) {
			t.Errorf("%s %s: security %v, want %v", c.method, c.path, op.Security, c.want)
		}
	}
	body := doc.Paths["/v1/auth/service/token"]["post"].RequestBody.Content
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
		if _, ok := body[ct]; !ok {
			t.Errorf("service token body lacks %s", ct)
		}
	}
}

// TestApprovalNeedsTheLoginsBinding: a session signed in through another
// binding of the Domain cannot approve a device login that resolved to
// this one.
func TestApprovalNeedsTheLoginsBinding(t *testing.T) {
	f := oidctest.Start(t, apptest.SQLite, true)
	// The second IdP's users carry no groups claim: two bindings syncing
	// the same group name into one Domain is a separate (oidc) matter.
	main, other := f.Issuer(t, nil), f.Issuer(t, func(c *devidp.Config) { c.Users = []devidp.User{{ID: "carol", Name: "Carol"}} })
	dom := f.Domain(t, "acme", "100.64.0.0/16")
	f.Bind(t, main, apiv1.CreateIdPBinding{DomainID: dom, Primary: true})
	f.Bind(t, other, apiv1.CreateIdPBinding{DomainID: dom, Alias: "other"})
	var dc apiv1.DeviceCode
	if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-code", apiv1.DeviceCodeRequest{DomainID: dom, IdPBindingAlias: "other"}, &dc); st != 200 {
		t.Fatalf("device-code: %d %s", st, raw)
	}
	br := f.Browser(t)
	br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic) // the primary binding
	resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: dc.UserCode}, true, nil)
	if resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != "device_binding_mismatch" {
		t.Fatalf("approve through another binding: %d %s", resp.StatusCode, raw)
	}
	// br2 does what the /device page does: sign in through the binding
	// named in verification_uri_complete, returning to the page.
	u, _ := url.Parse(dc.VerificationURIComplete)
	page := u.RequestURI()
	br2 := f.Browser(t)
	started := br2.StartSignIn(t, apiv1.SignIn{IdPBindingID: u.Query().Get("idp_binding_id"), ReturnTo: page})
	resp, raw = br2.Callback(t, br2.Authorize(t, started.AuthorizationURL, "carol", devidp.ACRBasic), false)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != page {
		t.Fatalf("sign-in from the page: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), raw)
	}
	if resp, raw := br2.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: dc.UserCode}, true, nil); resp.StatusCode != 200 {
		t.Fatalf("approve through the login's binding: %d %s", resp.StatusCode, raw)
	}
}

// TestVerificationPage: /device, the verification_uri devices print,
// redirects to the dashboard's device-approval screen with the user code
// and the login's binding, re-encoded, and nothing else; the screen itself
// is tested in a real browser (internal/dashboard TestBrowserIdentity).
func TestVerificationPage(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ query, want string }{
		{"?user_code=ABCD-EFGH&idp_binding_id=b1", "/ui/#/device?idp_binding_id=b1&user_code=ABCD-EFGH"},
		{"?user_code=AB%26x%3D1%23y&evil=1", "/ui/#/device?user_code=AB%26x%3D1%23y"},
		{"", "/ui/#/device"},
	} {
		resp, err := noFollow.Get(e.URL + "/device" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.want ||
			resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("/device%s: %d %q %v, want 303 to %q", c.query, resp.StatusCode, resp.Header.Get("Location"), resp.Header, c.want)
		}
	}
	// The screen it lands on is the dashboard's page.
	resp, err := http.Get(e.URL + "/device?user_code=ABCD-EFGH")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Request.URL.Path != "/ui/" {
		t.Fatalf("following /device: %d %s at %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Request.URL)
	}
}
