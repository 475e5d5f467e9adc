package dashboard_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
)

// opsCall sends a request with bearer token (the platform admin's for
// setup, a node's NSK or bootstrap token for enrolment) and decodes a 2xx
// answer into out; it fails the test on anything else.
func opsCall(t *testing.T, env *browsertest.Env, token, method, path string, body, out any) {
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
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("setup %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("setup %s %s: %v", method, path, err)
		}
	}
}

// opsFixture is a Domain with a Project and two enrolled nodes labelled
// role=web and role=db (the selector key is the label's qualified key).
type opsFixture struct {
	domainID, projectID string
	web, db             string // node ids
	role                string // the qualified key of the role label
}

func newOpsFixture(t *testing.T, env *browsertest.Env) opsFixture {
	t.Helper()
	var f opsFixture
	var d, p struct{ ID string }
	opsCall(t, env, env.Token, "POST", "/v1/domains", map[string]any{"name": "Ops", "slug": "ops", "mesh_cidr": "100.97.0.0/16"}, &d)
	opsCall(t, env, env.Token, "POST", "/v1/projects", map[string]any{"domain_id": d.ID, "name": "Fleet", "slug": "fleet"}, &p)
	f.domainID, f.projectID = d.ID, p.ID
	var tok struct{ Token string }
	opsCall(t, env, env.Token, "POST", "/v1/projects/"+p.ID+"/bootstrap-tokens",
		map[string]any{"kind": "node", "env_prefix": "test", "max_uses": 2}, &tok)
	var def struct {
		ID           string `json:"id"`
		QualifiedKey string `json:"qualified_key"`
	}
	opsCall(t, env, env.Token, "POST", "/v1/label-definitions", map[string]any{"scope": "domain", "scope_id": d.ID,
		"local_key": "role", "value_schema": map[string]any{"kind": "string"}, "applicable_kinds": []string{"node"}}, &def)
	f.role = def.QualifiedKey
	for _, role := range []string{"web", "db"} {
		pub := make([]byte, 32)
		rand.Read(pub)
		var n struct {
			ID string `json:"node_id"`
		}
		opsCall(t, env, tok.Token, "POST", "/v1/register", map[string]string{"token": tok.Token,
			"public_key": base64.StdEncoding.EncodeToString(pub), "hostname": role + "-1"}, &n)
		opsCall(t, env, env.Token, "PUT", "/v1/objects/node/"+n.ID+"/labels", map[string]any{"definition_id": def.ID, "value": role}, nil)
		if role == "web" {
			f.web = n.ID
		} else {
			f.db = n.ID
		}
	}
	return f
}

// setValue replaces the value of a textarea or input the way typing does
// (an input event), for bodies too long to type key by key.
func setValue(p *browsertest.Page, testid, text string) {
	p.T.Helper()
	raw, _ := json.Marshal(text)
	p.Wait(testid)
	p.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q);
		el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); })()`, string(browsertest.TestID(testid)), raw)))
}

const opsPolicy = `slug: web-to-db
display_name: Web to database
selector:
  source: %[1]s=web
  destination: %[1]s=db
rules:
  - {action: allow, protocol: tcp, source_cidr: 0.0.0.0/0, destination_cidr: 0.0.0.0/0, ports: {from: 5432, to: 5432}}
tests:
  - {from: %[1]s=web, to: %[1]s=db, protocol: tcp, port: 5432, expect: allow}
  - {from: %[1]s=web, to: %[1]s=db, protocol: tcp, port: %[2]d, expect: %[3]s}
`

// TestBrowserOps covers the operations screens: a policy whose test fails
// shows the failure inline and is not saved, fixed it lands, a second
// revision diffs against the first, tests and dry-run run in place; a
// secret is put (its value never displayed) and versioned and bound; an
// execution's dry-run preview shows its targets and skips; then parity.
func TestBrowserOps(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")
	f := newOpsFixture(t, env)
	// The refused save answers 422: the browser logs the failed load.
	p.AllowConsoleErrors = append(p.AllowConsoleErrors, "/policies")

	// ---- Policies ----
	p.Go("#/policies")
	p.Wait("policies-choose")
	p.Go("#/policies?project_id=" + f.projectID)
	p.Wait("policies-empty")
	p.Click("policy-create")
	// The second test asserts ssh is allowed: no rule allows it, so it
	// fails and the revision is refused, the failure shown inline.
	setValue(p, "policy-body", fmt.Sprintf(opsPolicy, f.role, 22, "allow"))
	p.Click("policy-save")
	p.Wait("policy-error")
	if code := browsertest.Eval[string](p, `document.querySelector('[data-testid="policy-error"]').dataset.code`); code != "policy_test_failed" {
		t.Fatalf("inline error code %q", code)
	}
	locs := browsertest.Eval[[]string](p, `[...document.querySelectorAll('[data-testid="policy-error-item"]')].map(e => e.dataset.location)`)
	if len(locs) == 0 || !slices.ContainsFunc(locs, func(l string) bool { return strings.Contains(l, "tests[1]") }) {
		t.Fatalf("inline errors at %v, want the failing tests[1]", locs)
	}
	if msg := p.Text("policy-error-list"); !strings.Contains(msg, "want allow") {
		t.Errorf("inline error %q does not say what the test wanted", msg)
	}
	p.Shot("policy-test-failed")
	p.Go("#/policies?project_id=" + f.projectID)
	p.Wait("policies-empty") // nothing was saved
	p.Go("#/projects/" + f.projectID + "/policies/new")

	// Fixed (ssh is expected to be denied), it lands.
	setValue(p, "policy-body", fmt.Sprintf(opsPolicy, f.role, 22, "deny"))
	p.Click("policy-save")
	p.Wait("policy-detail")
	p.Wait("policy-revisions-row")
	head1 := p.Text("policy-head")
	if n := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="policy-revisions-row"]').length`); n != 1 {
		t.Fatalf("%d revisions after the create", n)
	}
	p.Shot("policy-created")

	// Tests run in place (dry-run): both pass.
	p.Click("policy-run-tests")
	p.WaitFor(`document.querySelectorAll('[data-testid="policy-test-result"][data-passed="true"]').length === 2`)

	// A second revision (JSON this time) also allows ssh, with its test
	// changed to match; dry-run first shows the rule it adds.
	p.Click("policy-format-json")
	p.WaitFor(`document.querySelector('[data-testid="policy-body"]').value.trim().startsWith("{")`)
	body := browsertest.Eval[string](p, `document.querySelector('[data-testid="policy-body"]').value`)
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("JSON view of the policy: %v\n%s", err, body)
	}
	doc["rules"] = append(doc["rules"].([]any), map[string]any{"action": "allow", "protocol": "tcp", "source_cidr": "0.0.0.0/0",
		"destination_cidr": "0.0.0.0/0", "ports": map[string]int{"from": 22, "to": 22}})
	doc["tests"].([]any)[1].(map[string]any)["expect"] = "allow"
	raw, _ := json.MarshalIndent(doc, "", "  ")
	setValue(p, "policy-body", string(raw))
	p.Click("policy-dry-run")
	p.Wait("policy-dryrun")
	p.Wait("policy-dryrun-diff-added")
	if got := p.Text("policy-dryrun-kv-Matched nodes"); got != "2" {
		t.Errorf("dry-run matched %q nodes, want 2", got)
	}
	p.Shot("policy-dry-run")
	p.Click("policy-save")
	p.WaitFor(fmt.Sprintf(`(() => { const h = document.querySelector('[data-testid="policy-head"]'); return h && h.textContent !== %q; })()`, head1))
	p.WaitFor(`document.querySelectorAll('[data-testid="policy-revisions-row"]').length === 2`)

	// The diff between the two revisions: the ssh rule added.
	p.Wait("policy-diff-show")
	p.Click("policy-diff-show")
	p.Wait("policy-diff-added")
	if got := p.Text("policy-diff-added"); !strings.Contains(got, "allow tcp 22") {
		t.Errorf("diff shows %q", got)
	}
	p.Shot("policy-diff")

	// ---- Secrets ----
	const value = "s3cr3t-do-not-show-7f2a"
	p.Go("#/secrets?project_id=" + f.projectID)
	p.Wait("secrets-empty")
	p.Click("secret-create")
	p.Fill("field-name", "db-password")
	p.Fill("field-value", value)
	p.Click("secret-form-submit")
	p.Wait("secret-detail")
	p.WaitFor(`document.querySelector('[data-testid="secret-current-version"]')?.textContent === "1"`)
	p.Wait("secret-versions-row")
	p.Shot("secret")
	p.Click("secret-put")
	p.Fill("field-value", value+"-2")
	p.Click("secret-form-submit")
	p.WaitFor(`document.querySelector('[data-testid="secret-current-version"]')?.textContent === "2" &&
		document.querySelectorAll('[data-testid="secret-versions-row"]').length === 2`)
	p.Click("secret-bind")
	p.Fill("field-ref", f.role+"=db")
	p.Click("binding-form-submit")
	p.Wait("secret-bindings-row")
	if got := browsertest.Eval[string](p, `document.querySelector('[data-testid="secret-bindings-row"] td:nth-child(2)').textContent`); got != "1" {
		t.Errorf("the binding delivers to %q nodes, want 1", got)
	}
	// The value is nowhere on the page, not even in an input.
	if browsertest.Eval[bool](p, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q) ||
		[...document.querySelectorAll('input,textarea')].some(e => e.value.includes(%q))`, value, value)) {
		t.Fatal("the secret's value is displayed")
	}
	p.Shot("secret-versions-bindings")

	// ---- Executions: a dry-run preview ----
	p.Go("#/executions?project_id=" + f.projectID)
	p.Wait("executions-empty")
	p.Click("execution-create")
	p.Fill("dispatch-action", "reboot")
	p.Fill("dispatch-ref", f.role+" in (web, db)")
	p.Fill("dispatch-max-in-flight", "1")
	p.Fill("dispatch-batch-size", "1")
	p.Click("dispatch-preview")
	p.Wait("dispatch-preview-result")
	targets := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="preview-target"]').length`)
	skipped := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="preview-skipped"]').length`)
	if targets+skipped != 2 {
		t.Errorf("preview: %d targets + %d skipped, want the 2 nodes", targets, skipped)
	}
	if got := p.Text("preview-target-count"); got != fmt.Sprint(targets) {
		t.Errorf("preview says %s targets, lists %d", got, targets)
	}
	p.Shot("execution-preview")
	p.Go("#/executions?project_id=" + f.projectID)
	p.Wait("executions-empty") // a preview runs nothing

	ops := p.CheckParity()
	for _, want := range []string{
		"GET /v1/projects/{project_id}/policies", "POST /v1/projects/{project_id}/policies",
		"GET /v1/projects/{project_id}/policies/{policy_id}", "PATCH /v1/projects/{project_id}/policies/{policy_id}",
		"GET /v1/projects/{project_id}/policies/{policy_id}/revisions", "GET /v1/projects/{project_id}/policies/{policy_id}/diff",
		"POST /v1/projects/{project_id}/policies/{policy_id}/dry-run",
		"GET /v1/projects/{project_id}/secrets", "PUT /v1/projects/{project_id}/secrets/{name}",
		"GET /v1/projects/{project_id}/secrets/{name}", "GET /v1/projects/{project_id}/secrets/{name}/versions",
		"POST /v1/projects/{project_id}/secrets/{name}/bindings", "GET /v1/projects/{project_id}/secrets/{name}/bindings",
		"GET /v1/projects/{project_id}/executions", "POST /v1/projects/{project_id}/executions:preview",
	} {
		if !slices.Contains(ops, want) {
			t.Errorf("the flow made no %s request (made: %v)", want, ops)
		}
	}
}
