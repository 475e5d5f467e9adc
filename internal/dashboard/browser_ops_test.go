package dashboard_test

import (
	"bytes"
	"crypto/ed25519"
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
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/crypto/ssh"

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
	webNSK, dbNSK       string // their secret keys
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
			ID  string `json:"node_id"`
			NSK string `json:"node_secret_key"`
		}
		opsCall(t, env, tok.Token, "POST", "/v1/register", map[string]string{"token": tok.Token,
			"public_key": base64.StdEncoding.EncodeToString(pub), "hostname": role + "-1"}, &n)
		// The web node declares the gather_info built-in, the db node
		// none: a dispatch of it targets one and skips the other.
		actions := []map[string]any{}
		if role == "web" {
			actions = append(actions, map[string]any{"name": "gather_info", "description": "facts", "parameters": []any{}})
		}
		opsCall(t, env, n.NSK, "PUT", "/v1/nodes/"+n.ID+"/capabilities", map[string]any{"builtin_actions": actions, "hooks": []any{}}, nil)
		opsCall(t, env, env.Token, "PUT", "/v1/objects/node/"+n.ID+"/labels", map[string]any{"definition_id": def.ID, "value": role}, nil)
		if role == "web" {
			f.web, f.webNSK = n.ID, n.NSK
		} else {
			f.db, f.dbNSK = n.ID, n.NSK
		}
	}
	return f
}

// press activates a button by keyboard (focus, Enter): toasts of earlier
// steps may still cover the bottom corner a mouse click would hit.
func press(p *browsertest.Page, testid string) {
	p.T.Helper()
	p.Wait(testid)
	p.Do(chromedp.Focus(browsertest.TestID(testid)), chromedp.KeyEvent(kb.Enter))
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
	p.CheckAccessible()
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
	p.WaitFor(fmt.Sprintf(`(() => { const h = document.querySelector('[data-testid="policy-head"]');
		return document.querySelector('[data-testid="policy-error"]') || (h && h.textContent !== %q); })()`, head1))
	if browsertest.Eval[bool](p, `!!document.querySelector('[data-testid="policy-error"]')`) {
		t.Fatalf("second revision refused: %s", p.Text("policy-error"))
	}
	p.WaitFor(`document.querySelectorAll('[data-testid="policy-revisions-row"]').length === 2`)

	// The diff between the two revisions: the ssh rule added. (By
	// keyboard: the save's toast sits over the button's corner.)
	press(p, "policy-diff-show")
	p.Wait("policy-diff-added")
	if got := p.Text("policy-diff-added"); !strings.Contains(got, "allow tcp 22") {
		t.Errorf("diff shows %q", got)
	}
	p.Shot("policy-diff")
	p.CheckAccessible()

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
	p.CheckAccessible()

	// ---- Executions: a dry-run preview ----
	p.Go("#/executions?project_id=" + f.projectID)
	p.Wait("executions-empty")
	p.Click("execution-create")
	p.Fill("dispatch-action", "gather_info")
	p.Fill("dispatch-ref", f.role+" in (web, db)")
	p.Fill("dispatch-max-in-flight", "1")
	p.Fill("dispatch-batch-size", "1")
	press(p, "dispatch-preview")
	p.WaitFor(`!!document.querySelector('[data-testid="dispatch-preview-result"], [data-testid="dispatch-error"]')`)
	if browsertest.Eval[bool](p, `!!document.querySelector('[data-testid="dispatch-error"]')`) {
		t.Fatalf("preview refused: %s", p.Text("dispatch-error"))
	}
	p.Wait("dispatch-preview-result")
	targets := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="preview-target"]').length`)
	skipped := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="preview-skipped"]').length`)
	if targets != 1 || skipped != 1 {
		t.Errorf("preview: %d targets + %d skipped, want 1 + 1", targets, skipped)
	}
	if id := browsertest.Eval[string](p, `document.querySelector('[data-testid="preview-target"]')?.dataset.id`); id != f.web {
		t.Errorf("preview targets %s, want the web node %s", id, f.web)
	}
	if r := browsertest.Eval[string](p, `document.querySelector('[data-testid="preview-skipped"]')?.dataset.reason`); r != "action_not_declared" {
		t.Errorf("the db node is skipped for %q", r)
	}
	if got := p.Text("preview-target-count"); got != fmt.Sprint(targets) {
		t.Errorf("preview says %s targets, lists %d", got, targets)
	}
	p.Shot("execution-preview")
	p.CheckAccessible()
	p.Go("#/executions?project_id=" + f.projectID)
	p.Wait("executions-empty") // a preview runs nothing

	// Dispatched for real, the detail follows the target live (the
	// execution's event stream) as the node reports progress.
	p.Click("execution-create")
	p.Fill("dispatch-action", "gather_info")
	p.Fill("dispatch-ref", f.role+"=web")
	press(p, "dispatch-submit")
	p.Wait("execution-detail")
	p.WaitFor(`document.querySelector('[data-testid="execution-target"]')?.dataset.status === "pending"`)
	p.Wait("execution-live")
	exID := browsertest.Eval[string](p, `document.querySelector('[data-testid="execution-detail"]').dataset.id`)
	p.Shot("execution-pending")
	for _, st := range []string{"ack", "started"} {
		opsCall(t, env, f.webNSK, "POST", "/v1/nodes/"+f.web+"/executions/"+exID, map[string]any{"status": st}, nil)
	}
	p.WaitFor(`document.querySelector('[data-testid="execution-target"]')?.dataset.status === "started"`)
	opsCall(t, env, f.webNSK, "POST", "/v1/nodes/"+f.web+"/executions/"+exID, map[string]any{"status": "succeeded", "exit_code": 0}, nil)
	p.WaitFor(`document.querySelector('[data-testid="execution-target"]')?.dataset.status === "succeeded" &&
		document.querySelector('[data-testid="execution-detail"]').dataset.status === "succeeded"`)
	p.Shot("execution-succeeded")
	p.CheckAccessible()
	p.Go("#/executions?project_id=" + f.projectID)
	p.Wait("executions-row")

	// ---- Sessions: issue a tcp session (its token shown once), revoke ----
	p.Go("#/sessions?project_id=" + f.projectID)
	p.Wait("sessions-empty")
	p.Click("session-create")
	p.Wait("session-form")
	p.Do(chromedp.SetValue(browsertest.TestID("field-kind"), "tcp"), chromedp.Evaluate[chromedp.Void](
		`document.querySelector('[data-testid="field-kind"]').dispatchEvent(new Event('input', {bubbles: true}))`))
	p.Fill("field-host", "127.0.0.1")
	p.Fill("field-port", "5432")
	p.Click("session-form-submit")
	p.Wait("session-token-value")
	token := p.Text("session-token-value")
	if token == "" {
		t.Fatal("no session token shown")
	}
	p.Shot("session-issued")
	p.Click("session-token-done")
	p.WaitFor(fmt.Sprintf(`!document.body.textContent.includes(%q)`, token))
	p.Click("session-issued-link")
	p.Wait("session-detail")
	p.WaitFor(`document.querySelector('[data-testid="session-detail"]').dataset.status === "active"`)
	p.Click("session-revoke")
	p.Click("revoke-form-submit")
	p.WaitFor(`document.querySelector('[data-testid="session-detail"]')?.dataset.status === "revoked"`)
	p.Shot("session-revoked")

	// An ssh session whose node uploads a recording: it replays as text.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	p.Go("#/sessions?project_id=" + f.projectID)
	p.Click("session-create")
	p.Wait("session-form")
	p.Fill("field-user", "root")
	setValue(p, "field-public_key", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))))
	p.Click("session-form-submit")
	p.Wait("session-token-value")
	p.Click("session-token-done")
	p.Click("session-issued-link")
	p.Wait("session-detail")
	p.Wait("session-no-recording")
	sid := browsertest.Eval[string](p, `document.querySelector('[data-testid="session-detail"]').dataset.id`)
	nodeID := browsertest.Eval[string](p, `document.querySelector('[data-testid="session-kv-Node"]').textContent`)
	nsk := map[string]string{f.web: f.webNSK, f.db: f.dbNSK}[nodeID]
	if nsk == "" {
		t.Fatalf("the session is on node %q, not one of the fixture's", nodeID)
	}
	cast := "{\"version\":2,\"width\":80,\"height\":24}\n[0.05,\"o\",\"$ uptime\\r\\n\"]\n" +
		"[0.1,\"o\",\"\\u001b[1m 02:00:00 up 3 days\\u001b[0m\\r\\n\"]\n"
	for i, chunk := range []string{cast, ""} {
		req, _ := http.NewRequest("POST", env.URL+"/v1/nodes/"+nodeID+"/sessions/"+sid+"/recording", strings.NewReader(chunk))
		req.Header.Set("Authorization", "Bearer "+nsk)
		req.Header.Set("X-Plexd-Protocol", "2")
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("X-Plexsphere-Recording-Offset", fmt.Sprint(i*len(cast)))
		if i == 1 {
			req.Header.Set("X-Plexsphere-Recording-Final", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("recording chunk %d: %d %s", i, resp.StatusCode, raw)
		}
	}
	p.Open("#/projects/" + f.projectID + "/sessions/" + sid)
	p.Click("session-replay-open")
	p.Wait("session-replay")
	p.Click("replay-play")
	p.WaitFor(`document.querySelector('[data-testid="replay-screen"]').textContent.includes("up 3 days")`)
	if screen := p.Text("replay-screen"); !strings.Contains(screen, "$ uptime") || strings.Contains(screen, "\x1b") {
		t.Errorf("replayed screen %q", screen)
	}
	p.Shot("session-replay")
	p.CheckAccessible()

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
		"POST /v1/projects/{project_id}/sessions", "GET /v1/projects/{project_id}/sessions",
		"GET /v1/projects/{project_id}/sessions/{session_id}", "GET /v1/projects/{project_id}/sessions/{session_id}/recording",
		"POST /v1/projects/{project_id}/sessions/{session_id}:revoke",
		"POST /v1/projects/{project_id}/executions:dispatch", "GET /v1/projects/{project_id}/executions/{execution_id}",
		"GET /v1/projects/{project_id}/executions/{execution_id}/events",
	} {
		if !slices.Contains(ops, want) {
			t.Errorf("the flow made no %s request (made: %v)", want, ops)
		}
	}
}
