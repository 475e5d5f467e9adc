package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
	"github.com/plexsphere/plexsphere/internal/devidp"
)

// TestBrowserIdentity walks the identity screens as the dev Domain's admin:
// a service identity, a manual group with the signed-in user and the
// service identity as members, an API token shown once (it works, then it
// is gone from the page; revoked, it stops working), an invitation with a
// role and a group shown with its sign-in link once and then revoked, a
// device login started from Go, approved in the browser and redeemed
// from Go, and the identities and IdP bindings views; then the parity
// rule over every request made.
func TestBrowserIdentity(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.SignIn("alice")
	aliceID := idtIdentityID(t, env, "alice@dev.plexsphere.test")
	dom := env.DomainID
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e6)
	// Toasts stack over the lower right corner: dismiss them first, as a
	// user would, so a click reaches its button.
	click := func(testid string) {
		t.Helper()
		browsertest.Eval[bool](p, `([...document.querySelectorAll('[data-testid="toast"] button')].forEach(b => b.click()), true)`)
		p.WaitFor(`document.querySelectorAll('[data-testid="toast"]').length === 0`)
		p.Click(testid)
	}

	// A service identity of the Domain, bound to its dev IdP.
	p.Go("#/service-identities?domain_id=" + dom)
	click("service-identity-create")
	p.Fill("field-display_name", "CI runner "+suffix)
	p.Fill("field-client_id", "ci-"+suffix)
	click("service-identity-form-submit")
	p.Wait("service-identity-detail")
	svcID := p.Text("service-identity-id")
	if got := p.Text("service-identity-cred-Kind"); got != "client_credentials" {
		t.Errorf("credential kind %q", got)
	}
	p.Shot("service-identity")
	p.CheckAccessible()

	// An admin token for the service identity, shown once, then revoked.
	click("service-identity-tokens")
	p.Wait("admin-token")
	click("admin-token-form-submit")
	svcToken := p.Text("admin-token-secret-value")
	if !strings.HasPrefix(svcToken, "psk_") {
		t.Fatalf("admin-issued token %q", svcToken)
	}
	p.Shot("admin-token")
	click("admin-token-secret-done")
	p.WaitFor(fmt.Sprintf(`document.querySelector('[data-testid="admin-token-secret"]').dataset.state === "gone" && !document.body.textContent.includes(%q)`, svcToken))
	p.Wait("admin-token-table-row")
	click("admin-token-table-revoke")
	click("admin-token-revoke-confirm-ok")
	p.Wait("admin-token-table-empty")

	// The groups list shows the IdP-synced group as read-only.
	p.Go("#/groups?domain_id=" + dom)
	p.Wait("groups-row")
	if !browsertest.Eval[bool](p, `[...document.querySelectorAll('[data-testid="group-source"]')].some(e => e.dataset.status === "IdP-synced")`) {
		t.Error("the IdP-synced dev-admins group has no IdP badge")
	}
	p.Shot("groups")

	// A manual group; the signed-in user and the service identity join it.
	click("group-create")
	p.Fill("field-display_name", "SRE "+suffix)
	p.Fill("field-slug", "sre-"+suffix)
	click("group-form-submit")
	p.Wait("group-detail")
	groupID := p.Text("group-id")
	p.Wait("members-empty")
	for _, member := range []string{"user:" + aliceID, "service_identity:" + svcID} {
		click("member-add")
		p.WaitFor(fmt.Sprintf(`!!document.querySelector('[data-testid="field-principal"] option[value=%q]')`, member))
		idtSelect(p, "field-principal", member)
		click("member-form-submit")
		kind, id, _ := strings.Cut(member, ":")
		p.WaitFor(fmt.Sprintf(`!!document.querySelector('[data-testid="member-row"][data-id=%q][data-kind=%q]')`, id, kind))
	}
	p.Shot("group-members")
	p.CheckAccessible()
	if names := p.Text("group-members"); !strings.Contains(names, "Alice") || !strings.Contains(names, "CI runner "+suffix) {
		t.Errorf("members are not shown by name: %q", names)
	}

	// Rename the group; remove the service identity again.
	click("group-rename")
	p.WaitFor(`document.querySelector('[data-testid="group-rename-dialog"]').open`)
	p.Wait("field-display_name")
	p.Do(clear("field-display_name"))
	p.Fill("field-display_name", "SRE team "+suffix)
	click("group-rename-form-submit")
	p.WaitFor(fmt.Sprintf(`document.querySelector('[data-testid="page-title"]').textContent === %q`, "SRE team "+suffix))
	p.WaitFor(`!document.querySelector('[data-testid="group-rename-dialog"]').open`)
	svcRow := fmt.Sprintf(`[data-testid="member-row"][data-id=%q]`, svcID)
	browsertest.Eval[bool](p, fmt.Sprintf(`(document.querySelector(%q).click(), true)`, svcRow+` [data-testid="member-remove"]`))
	click("member-remove-confirm-ok")
	p.WaitFor(fmt.Sprintf(`!document.querySelector(%q) && document.querySelectorAll('[data-testid="member-row"]').length === 1`, svcRow))

	// The user's own API token: shown once, usable, then gone from the page.
	p.Go("#/tokens")
	p.Wait("my-token-form")
	click("my-token-form-submit")
	plaintext := p.Text("my-token-secret-value")
	if !strings.HasPrefix(plaintext, "psk_") {
		t.Fatalf("issued token %q", plaintext)
	}
	p.Shot("token-issued")
	p.CheckAccessible()
	var who struct {
		Email string `json:"email"`
	}
	if st := idtCall(t, env, plaintext, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.Email != "alice@dev.plexsphere.test" {
		t.Fatalf("the issued token: whoami %d %+v", st, who)
	}
	click("my-token-secret-done")
	p.WaitFor(fmt.Sprintf(`document.querySelector('[data-testid="my-token-secret"]').dataset.state === "gone" && !document.body.textContent.includes(%q)`, plaintext))
	p.Shot("token-gone")
	var mine []struct {
		ID     string `json:"id"`
		Prefix string `json:"prefix"`
	}
	idtCall(t, env, plaintext, "GET", "/v1/auth/tokens", nil, &mine)
	tokenID := ""
	for _, tk := range mine {
		if tk.Prefix != "" && strings.HasPrefix(plaintext, tk.Prefix) {
			tokenID = tk.ID
		}
	}
	if tokenID == "" {
		t.Fatalf("the issued token is not in the list: %+v", mine)
	}
	rowSel := fmt.Sprintf(`[data-testid="my-token-table-row"][data-id=%q]`, tokenID)
	p.WaitFor(fmt.Sprintf(`!!document.querySelector(%q)`, rowSel))
	browsertest.Eval[bool](p, fmt.Sprintf(`(document.querySelector(%q).click(), true)`, rowSel+` [data-testid="my-token-table-revoke"]`))
	click("my-token-revoke-confirm-ok")
	p.WaitFor(fmt.Sprintf(`!document.querySelector(%q)`, rowSel))
	if st := idtCall(t, env, plaintext, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
		t.Errorf("the revoked token still answers %d", st)
	}

	// An invitation with a Domain role and the group: its sign-in link is
	// shown once; then it is revoked.
	p.Go("#/invitations?domain_id=" + dom)
	click("invitation-create")
	p.Fill("field-email", "ada-"+suffix+"@example.com")
	idtSelect(p, "field-domain_role", "viewer")
	p.WaitFor(fmt.Sprintf(`!!document.querySelector('[data-testid="field-group"] option[value=%q]')`, groupID))
	idtSelect(p, "field-group", groupID)
	p.Shot("invitation-dialog")
	click("invitation-form-submit")
	link := p.Text("invitation-link-value")
	if !strings.HasPrefix(link, "http") {
		t.Errorf("sign-in link %q", link)
	}
	p.WaitFor(`document.querySelector('[data-testid="invitation-status"]')?.dataset.status === "pending"`)
	grants := p.Text("invitations-row")
	if !strings.Contains(grants, "group:"+groupID+"#member") || !strings.Contains(grants, "domain:"+dom+"#viewer") {
		t.Errorf("the newest invitation row lacks its grants: %q", grants)
	}
	p.Shot("invitation-created")
	p.CheckAccessible()
	click("invitation-link-done")
	p.WaitFor(`document.querySelector('[data-testid="invitation-link"]').dataset.state === "gone"`)
	if browsertest.Eval[bool](p, fmt.Sprintf(`document.body.textContent.includes(%q)`, link)) {
		t.Errorf("the sign-in link %q is still on the page", link)
	}
	click("invitation-revoke")
	click("invitation-revoke-confirm-ok")
	p.WaitFor(`document.querySelector('[data-testid="invitation-status"]').dataset.status === "revoked"`)
	p.Shot("invitation-revoked")

	// A device login: started from Go, approved in the browser, redeemed
	// from Go.
	var dc struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURIComplete string `json:"verification_uri_complete"`
	}
	if st := idtCall(t, env, "", "POST", "/v1/auth/device-code", map[string]string{"domain_id": dom}, &dc); st != 200 {
		t.Fatalf("device-code: %d", st)
	}
	// The printed verification URI (/device) redirects to the dashboard's
	// screen; the browser opens where it leads (a page load, as from a
	// terminal's link).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(dc.VerificationURIComplete)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	route, ok := strings.CutPrefix(resp.Header.Get("Location"), "/ui/")
	if resp.StatusCode != http.StatusSeeOther || !ok || !strings.HasPrefix(route, "#/device?") {
		t.Fatalf("%s: %d to %q, want the dashboard's device screen", dc.VerificationURIComplete, resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := idtCall(t, env, "", "POST", "/v1/auth/device-token", map[string]string{"device_code": dc.DeviceCode}, nil); st != 400 {
		t.Errorf("device-token before approval: %d, want 400 authorization_pending", st)
	}
	p.Open(route)
	p.Wait("device-approve")
	if got := p.Text("device-code"); got != strings.ToUpper(dc.UserCode) {
		t.Errorf("the page shows code %q, want %q", got, dc.UserCode)
	}
	p.Shot("device")
	p.CheckAccessible()
	click("device-approve")
	p.WaitFor(`document.querySelector('[data-testid="device-result"]')?.dataset.status === "approved"`)
	p.Shot("device-approved")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st := idtCall(t, env, "", "POST", "/v1/auth/device-token", map[string]string{"device_code": dc.DeviceCode}, &tok); st != 200 || tok.AccessToken == "" {
		t.Fatalf("device-token after approval: %d", st)
	}
	who.Email = ""
	if st := idtCall(t, env, tok.AccessToken, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.Email != "alice@dev.plexsphere.test" {
		t.Errorf("the device login's token: whoami %d %+v", st, who)
	}

	// The identities view: the user, with the new group and effective roles.
	p.Go("#/identities?domain_id=" + dom)
	p.Wait("identities-row")
	p.Shot("identities")
	p.CheckAccessible()
	p.Go("#/domains/" + dom + "/identities/" + aliceID)
	p.Wait("identity-detail")
	if got := p.Text("identity-kv-Groups"); !strings.Contains(got, "SRE team "+suffix) {
		t.Errorf("alice's groups %q lack the new group", got)
	}
	roles := browsertest.Eval[[]string](p, `[...document.querySelectorAll('[data-testid="identity-role"]')].map(e => e.textContent)`)
	if !slices.Contains(roles, "domain:"+dom+"admin") {
		t.Errorf("effective roles %v lack admin on the Domain", roles)
	}
	p.Shot("identity")
	p.CheckAccessible()

	// The Domain's IdP bindings.
	p.Go("#/idp?domain_id=" + dom)
	p.Wait("idp-row")
	if got := p.Text("idp-issuer"); got != env.IdP.Issuer() {
		t.Errorf("binding issuer %q, want %q", got, env.IdP.Issuer())
	}
	p.Shot("idp-bindings")
	p.CheckAccessible()
	// A change through the edit dialog (JIT policy), then back.
	for _, jit := range []string{"deny", "allow"} {
		click("idp-edit")
		idtSelect(p, "field-jit_policy", jit)
		if jit == "deny" {
			p.Shot("idp-edit")
		}
		click("idp-edit-form-submit")
		p.WaitFor(fmt.Sprintf(`!document.querySelector('[data-testid="idp-edit-dialog"]').open &&
			[...document.querySelectorAll('[data-testid="idp-row"] td')].some(td => td.textContent === %q)`, jit))
	}

	ops := p.CheckParity()
	for _, want := range []string{
		"POST /v1/domains/{id}/service-identities", "GET /v1/domains/{id}/service-identities/{service_identity_id}",
		"GET /v1/admin/groups", "POST /v1/admin/groups", "GET /v1/admin/groups/{id}",
		"GET /v1/admin/groups/{id}/members", "POST /v1/admin/groups/{id}/members",
		"GET /v1/auth/tokens", "POST /v1/auth/tokens", "DELETE /v1/auth/tokens/{id}",
		"GET /v1/admin/tokens", "POST /v1/admin/tokens", "DELETE /v1/admin/tokens/{id}",
		"PATCH /v1/admin/groups/{id}", "DELETE /v1/admin/groups/{id}/members/{principal_id}",
		"POST /v1/domains/{id}/invitations", "GET /v1/domains/{id}/invitations", "DELETE /v1/domains/{id}/invitations/{invitationId}",
		"POST /v1/auth/device/approve", "GET /v1/domains/{id}/identities", "GET /v1/domains/{id}/identities/{principalId}",
		"GET /v1/admin/idp", "PATCH /v1/admin/idp/{id}",
	} {
		if !slices.Contains(ops, want) {
			t.Errorf("the flow made no %s request (made: %v)", want, ops)
		}
	}
}

// selectValue picks an option of a <select> as a user does: the value
// changes and input/change events fire.
func idtSelect(p *browsertest.Page, testid, value string) {
	p.T.Helper()
	p.Wait(testid)
	browsertest.Eval[bool](p, fmt.Sprintf(`(() => { const s = document.querySelector('[data-testid=%q]'); s.value = %q;
		s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); return s.value === %q; })()`,
		testid, value, value))
}

// identityID is the id of the user with this e-mail (signed in before).
func idtIdentityID(t *testing.T, env *browsertest.Env, email string) string {
	t.Helper()
	var id string
	if err := env.Server.DB.QueryRowContext(context.Background(), `SELECT id FROM identities WHERE email = $1 AND kind = 'user'`, email).Scan(&id); err != nil {
		t.Fatalf("find user %s: %v", email, err)
	}
	return id
}

// call makes an API request from Go (bearer token optional), decoding a
// JSON answer into out; it returns the status.
func idtCall(t *testing.T, env *browsertest.Env, token, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// TestBrowserIdentityStepUp: when the login's binding requires a stronger
// sign-in, approving a device login answers 401 step_up_required; the
// device screen shows the problem inline with "sign in again", which
// signs in afresh (here with the mfa acr at the dev issuer), returns to
// the screen, and the approval then goes through.
func TestBrowserIdentityStepUp(t *testing.T) {
	env := browsertest.Get(t)
	dom := env.DomainID
	var bindings []struct {
		ID string `json:"id"`
	}
	if st := idtCall(t, env, env.Token, "GET", "/v1/admin/idp?domain_id="+dom, nil, &bindings); st != 200 || len(bindings) != 1 {
		t.Fatalf("dev bindings: %d %+v", st, bindings)
	}
	bindingPath := "/v1/admin/idp/" + bindings[0].ID
	if st := idtCall(t, env, env.Token, "PATCH", bindingPath, map[string]any{"required_acr": []string{devidp.ACRMFA}}, nil); st != 200 {
		t.Fatalf("require mfa: %d", st)
	}
	t.Cleanup(func() {
		if st := idtCall(t, env, env.Token, "PATCH", bindingPath, map[string]any{"required_acr": []string{}}, nil); st != 200 {
			t.Errorf("restore the dev binding: %d", st)
		}
	})

	p := env.NewPage(t)
	p.AllowConsoleErrors = append(p.AllowConsoleErrors, "/v1/auth/device/approve")
	p.SignIn("alice") // acr basic
	var dc struct {
		DeviceCode string `json:"device_code"`
		UserCode   string `json:"user_code"`
	}
	if st := idtCall(t, env, "", "POST", "/v1/auth/device-code", map[string]string{"domain_id": dom}, &dc); st != 200 {
		t.Fatalf("device-code: %d", st)
	}
	p.Open("#/device?user_code=" + dc.UserCode + "&idp_binding_id=" + bindings[0].ID)
	p.Click("device-approve")
	p.WaitFor(`document.querySelector('[data-testid="device-error"]')?.dataset.code === "step_up_required"`)
	p.Shot("step-up-required")
	p.CheckAccessible()
	if st := idtCall(t, env, "", "POST", "/v1/auth/device-token", map[string]string{"device_code": dc.DeviceCode}, nil); st != 400 {
		t.Errorf("device-token after a refused approval: %d, want 400 (pending)", st)
	}

	// Sign in again, with mfa at the issuer: back on the screen, approve.
	p.Click("device-error-sign-in-again")
	form := fmt.Sprintf(`//form[input[@name="user" and @value=%q]]`, "alice")
	p.Do(chromedp.WaitVisible(chromedp.Search(form + `/button`)))
	// The sign-in asked the issuer for the ACR of the challenge: its page
	// preselects mfa.
	if sel := browsertest.Eval[string](p, `document.querySelector('form input[value="alice"]').form.acr.value`); sel != devidp.ACRMFA {
		t.Errorf("the issuer preselects %q, want %q (the challenge's acr_values)", sel, devidp.ACRMFA)
	}
	p.Do(chromedp.Click(chromedp.Search(form + `/button`)))
	p.Click("device-approve")
	p.WaitFor(`document.querySelector('[data-testid="device-result"]')?.dataset.status === "approved"`)
	p.Shot("step-up-approved")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st := idtCall(t, env, "", "POST", "/v1/auth/device-token", map[string]string{"device_code": dc.DeviceCode}, &tok); st != 200 || tok.AccessToken == "" {
		t.Fatalf("device-token after the stepped-up approval: %d", st)
	}
	ops := p.CheckParity()
	if n := len(slices.DeleteFunc(slices.Clone(ops), func(s string) bool { return s != "POST /v1/auth/device/approve" })); n != 2 {
		t.Errorf("%d approvals made, want 2 (refused, then approved): %v", n, ops)
	}
}
