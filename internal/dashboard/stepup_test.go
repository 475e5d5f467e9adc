package dashboard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/dashboard"
	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
	"github.com/plexsphere/plexsphere/internal/devidp"
)

// TestBrowserStepUp: when the dev binding requires the mfa ACR, a
// sensitive call from a basic session answers 401 step_up_required; api.js
// keeps the session (no sign-out) and reads the ACRs asked for, and
// stepUp() signs in again at that ACR and returns to the page, after which
// the call succeeds.
func TestBrowserStepUp(t *testing.T) {
	env := browsertest.Get(t)
	var bindings []apiv1.IdPBinding
	if st := adminCall(t, env, "GET", "/v1/admin/idp?domain_id="+env.DomainID, nil, &bindings); st != 200 || len(bindings) == 0 {
		t.Fatalf("bindings: %d %v", st, bindings)
	}
	id := bindings[0].ID
	p := env.NewPage(t)
	p.SignIn("alice")
	if st := adminCall(t, env, "PATCH", "/v1/admin/idp/"+id, map[string]any{"required_acr": []string{devidp.ACRMFA}}, nil); st != 200 {
		t.Fatalf("require mfa: %d", st)
	}
	t.Cleanup(func() {
		var b apiv1.IdPBinding
		if st := adminCall(t, env, "PATCH", "/v1/admin/idp/"+id, map[string]any{"required_acr": []string{}}, &b); st != 200 || len(b.RequiredACR) != 0 {
			t.Errorf("restore the dev binding: %d %v", st, b.RequiredACR)
		}
	})
	p.AllowConsoleErrors = append(p.AllowConsoleErrors, "/v1/auth/tokens")
	p.Go("#/design")
	p.Wait("design")

	api := fmt.Sprintf("/ui/v/%s/js/api.js", dashboard.Version)
	issue := fmt.Sprintf(`import(%q).then((api) => api.post('/v1/auth/tokens', {env_prefix: 'dev', ttl_seconds: 600})
		.then((t) => 'issued ' + (t.plaintext ? 'with plaintext' : 'without plaintext'), (e) => [e.status, e.code, e.acrValues.join(' '), String(api.hasSessionHint())].join('|')))`, api)
	got := browsertest.Run(p, chromedp.Evaluate[string](issue, chromedp.EvalAwaitPromise))
	if want := "401|step_up_required|" + devidp.ACRMFA + "|true"; got != want {
		t.Fatalf("sensitive call from a basic session: %q, want %q", got, want)
	}
	p.Wait("whoami") // still signed in
	p.Shot("before-step-up")

	// Step up: the IdP is asked for mfa (its page preselects it).
	p.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`import(%q).then((api) => api.stepUp({acrValues: [%q]}))`, api, devidp.ACRMFA), chromedp.EvalAwaitPromise))
	p.Do(chromedp.WaitVisible(chromedp.Search(`//form[input[@name="user" and @value="alice"]]/button`)))
	if sel := browsertest.Run(p, chromedp.Evaluate[string](`document.querySelector('form input[value="alice"]').form.acr.value`)); sel != devidp.ACRMFA {
		t.Errorf("the IdP preselects %q", sel)
	}
	p.Do(chromedp.Click(chromedp.Search(`//form[input[@name="user" and @value="alice"]]/button`)))
	p.Wait("design") // back on the page that asked
	p.Wait("whoami")
	got = browsertest.Run(p, chromedp.Evaluate[string](issue, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(got, "issued") {
		t.Fatalf("after step-up: %q", got)
	}
	p.Shot("after-step-up")
}
