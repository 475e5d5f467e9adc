package dashboard_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

// TestBrowserSignIn signs in through the dashboard's IdP chooser and the
// development issuer and lands on the Domains list with the session.
func TestBrowserSignIn(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.Open("#/sign-in?domain=" + env.DomainID)
	p.Wait("idp-option")
	if alias := browsertest.Eval[string](p, `document.querySelector('[data-testid="idp-option"]').dataset.alias`); alias != "dev" {
		t.Fatalf("the chooser offers %q, want the dev binding", alias)
	}
	p.CheckAccessible()
	p.Shot("chooser")
	p.SignIn("alice")
	if who := p.Text("whoami"); !strings.Contains(who, "alice@dev.plexsphere.test") {
		t.Fatalf("signed in as %q", who)
	}
	p.Wait("domains-row")
	if title := p.Text("page-title"); title != "Domains" {
		t.Fatalf("landed on %q", title)
	}
	p.Shot("domains")

	// Signing out ends the session: the next load asks to sign in again.
	p.Click("sign-out")
	p.Wait("sign-in")
	p.Open("#/domains")
	p.Wait("sign-in")
}

// TestBrowserFlow is the main flow: sign in, create a Domain and a
// Project (and adopt a Resource), view the audit entries of these actions
// with an entry's proof, verify the chain; then the parity rule over every
// request the flow made.
func TestBrowserFlow(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")

	// A Domain, through the create dialog.
	p.Go("#/domains")
	p.Click("domain-create")
	p.Fill("field-name", "Acme Production")
	p.Fill("field-slug", "acme-prod")
	p.Fill("field-mesh_cidr", "100.80.0.0/16")
	p.CheckAccessible()
	p.Shot("domain-dialog")
	p.Click("domain-form-submit")
	p.Wait("domain-detail")
	domainID := p.Text("domain-id")
	if title := p.Text("page-title"); title != "Acme Production" {
		t.Fatalf("domain page title %q", title)
	}
	p.Shot("domain")

	// A bad Project: the problem+json error shows inline on its field.
	p.AllowConsoleErrors = append(p.AllowConsoleErrors, "/v1/projects")
	p.Click("domain-projects")
	p.Wait("projects-empty")
	p.Click("project-create")
	p.Fill("field-name", "Web")
	p.Fill("field-slug", "Not A Slug")
	p.Click("project-form-submit")
	p.Wait("project-form-error")
	p.Wait("field-error-slug")
	p.Shot("project-inline-error")

	// Fixed, it is created in the Domain picked.
	p.Do(clear("field-slug"))
	p.Fill("field-slug", "web")
	p.Click("project-form-submit")
	p.Wait("project-detail")
	if got := p.Text("project-kv-Domain"); got != domainID {
		t.Fatalf("project in domain %q, want %q", got, domainID)
	}
	p.Shot("project")

	// A Resource of the Project.
	p.Click("project-resources")
	p.Click("resource-create")
	p.Fill("field-kind", "vm")
	p.Fill("field-external_ref", "i-0abc")
	p.Click("resource-form-submit")
	p.Wait("resources-row")
	p.CheckAccessible()
	p.Shot("resources")

	// Keyboard: a focused row opens its detail with Enter.
	p.Do(chromedp.Focus(browsertest.TestID("resources-row")), chromedp.KeyEvent(kb.Enter))
	p.Wait("resource-detail")
	p.CheckAccessible()

	// The Domain's audit chain shows these actions.
	p.Go("#/domains/" + domainID + "/audit")
	p.Wait("audit-row")
	actions := browsertest.Eval[[]string](p, `[...document.querySelectorAll('[data-testid="audit-action"]')].map(e => e.textContent)`)
	for _, want := range []string{"project.create", "resource.create"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit chain of the new Domain lacks %s: %v", want, actions)
		}
	}
	p.CheckAccessible()
	p.Shot("audit-chain")

	// Filtered to project.create: exactly the entry of the Project.
	p.Fill("filter-action", "project.create")
	p.Click("audit-apply")
	p.WaitFor(`document.querySelectorAll('[data-testid="audit-row"]').length === 1 &&
		document.querySelector('[data-testid="audit-action"]').textContent === "project.create"`)
	p.Shot("audit-filtered")

	// Its proof recomputes in the browser, and the chain verifies.
	p.Click("audit-entry-link")
	p.Wait("audit-proof-ok")
	p.CheckAccessible()
	p.Shot("audit-entry")
	p.Click("audit-entry-verify")
	p.Wait("verify-result-ok")
	p.Click("audit-back")
	p.Click("audit-verify")
	p.Wait("verify-result-ok")
	p.Shot("audit-verified")

	// The Domain's creation is on the platform chain (a Domain's chain
	// begins with the Domain).
	p.Go("#/audit")
	p.Click("audit-platform-link")
	p.Fill("filter-action", "domain.create")
	p.Fill("filter-object_id", domainID)
	p.Click("audit-apply")
	p.WaitFor(`document.querySelectorAll('[data-testid="audit-row"]').length === 1 &&
		document.querySelector('[data-testid="audit-action"]').textContent === "domain.create"`)
	p.Click("audit-entry-link")
	p.Wait("audit-proof-ok")
	if got := p.Text("audit-entry-kv-Object"); !strings.Contains(got, domainID) {
		t.Errorf("platform entry names %q, want the Domain %s", got, domainID)
	}
	p.Shot("platform-audit-entry")
	p.Click("audit-entry-verify")
	p.Wait("verify-result-ok")

	// Parity: every request of the flow is an operation of the contract
	// document; and these are the ones the flow needs.
	ops := p.CheckParity()
	for _, want := range []string{
		"GET /v1/auth/idp-bindings", "POST /v1/auth/sign-in", "GET /v1/auth/callback", "GET /v1/auth/whoami",
		"POST /v1/domains", "GET /v1/domains/{id}", "POST /v1/projects", "GET /v1/projects",
		"POST /v1/projects/{project_id}/resources", "GET /v1/domains/{domainId}/audit/entries",
		"GET /v1/domains/{domainId}/audit/entries/{seq}", "POST /v1/domains/{domainId}/audit/verify",
		"GET /v1/platform/audit/entries", "GET /v1/platform/audit/entries/{seq}", "POST /v1/platform/audit/verify",
	} {
		if !slices.Contains(ops, want) {
			t.Errorf("the flow made no %s request (made: %v)", want, ops)
		}
	}
}

// TestBrowserDesignSystem opens the design-system page without a session:
// it documents the tokens and shows each component live, makes no API
// request, and works in the dark theme.
func TestBrowserDesignSystem(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.Open("#/design")
	p.Wait("design")
	for _, id := range []string{"design-colour", "design-spacing", "design-type", "design-radius", "design-button",
		"design-badge", "design-empty", "design-table", "design-forms", "design-dialog", "design-secret",
		"design-toast", "design-code", "design-kv"} {
		p.Wait(id)
	}
	// Keyboard: the first Tab stop is the skip link, and it moves focus
	// to the main region (not the hash route).
	p.Do(chromedp.KeyEvent(kb.Tab))
	p.WaitFor(`document.activeElement.classList.contains("skip-link")`)
	p.Do(chromedp.KeyEvent(kb.Enter))
	p.WaitFor(`document.activeElement.id === "main" && location.hash === "#/design"`)

	if n := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="token-colour"]').length`); n < 15 {
		t.Errorf("%d colour tokens documented", n)
	}
	p.CheckAccessible()
	p.Shot("light")

	// Paging and filtering of the DataTable (local rows in the demo).
	p.Wait("design-table-demo-row")
	p.Click("design-table-demo-more")
	p.WaitFor(`document.querySelectorAll('[data-testid="design-table-demo-row"]').length === 6`)

	// A problem+json error lands on its field.
	p.Fill("field-name", "x")
	p.Click("design-form-submit")
	p.Wait("field-error-slug")

	// The dialog opens modal and closes with Escape.
	p.Click("design-dialog-open")
	p.WaitFor(`document.querySelector('[data-testid="design-dialog-demo"]').open`)
	p.Shot("dialog")
	p.Do(chromedp.KeyEvent(kb.Escape))
	p.WaitFor(`!document.querySelector('[data-testid="design-dialog-demo"]').open`)

	// Copy-once: after "stored", the value is gone from the page.
	p.Click("design-secret-demo-done")
	p.WaitFor(`document.querySelector('[data-testid="design-secret-demo"]').dataset.state === "gone" &&
		!document.body.textContent.includes("psk_demo_0123456789abcdef")`)

	// Dark theme through the toggle: system → light → dark.
	p.Click("theme-toggle")
	p.Click("theme-toggle")
	p.WaitFor(`document.documentElement.dataset.theme === "dark"`)
	bg := browsertest.Eval[string](p, `getComputedStyle(document.body).backgroundColor`)
	if bg != "rgb(15, 18, 22)" {
		t.Errorf("dark background %q", bg)
	}
	p.Shot("dark")

	// Contrast: the text/background token pairs meet WCAG AA (4.5:1) in
	// both themes.
	for _, theme := range []string{"light", "dark"} {
		for _, f := range browsertest.Eval[[]string](p, fmt.Sprintf(contrastScript, theme)) {
			t.Errorf("contrast (%s): %s", theme, f)
		}
	}

	if reqs := p.APIRequests(); len(reqs) != 0 {
		t.Errorf("the design page called the API: %v", reqs)
	}
}

// contrastScript applies a theme and lists the token pairs under 4.5:1.
const contrastScript = `(() => {
  document.documentElement.dataset.theme = %q;
  const probe = document.createElement('span');
  document.body.appendChild(probe);
  const rgb = (token) => {
    probe.style.color = 'var(--color-' + token + ')';
    return getComputedStyle(probe).color.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
  };
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((m, n) => n - m); return (x + 0.05) / (y + 0.05); };
  const pairs = [['text', 'bg'], ['text', 'surface'], ['text-muted', 'bg'], ['text-muted', 'surface'], ['text-muted', 'surface-sunken'],
    ['accent', 'surface'], ['accent-text', 'accent'], ['success', 'success-bg'], ['warning', 'warning-bg'], ['danger', 'danger-bg'],
    ['info', 'info-bg'], ['neutral', 'neutral-bg'], ['danger', 'surface'], ['text', 'code-bg'], ['text', 'warning-bg']];
  const bad = pairs.filter(([f, b]) => ratio(f, b) < 4.5).map(([f, b]) => f + ' on ' + b + ': ' + ratio(f, b).toFixed(2));
  probe.remove();
  return bad;
})()`
