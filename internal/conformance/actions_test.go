package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Fleet operations (issue 14), from the contract's Execution,
// ExecutionTarget, OutputRef, ExecutionList, ExecutionCallbackResponse,
// CapabilityRow(List), DiscoveredHook/HookList, IntegrityViolationRow(List)
// and IntegrityViolationsResponse.
var (
	execStatus  = enum("pending", "ack", "started", "succeeded", "failed", "cancelled", "timeout")
	actionKind  = enum("builtin", "hook")
	outputRef   = object(req("kind", enum("inline", "object_store")), opt("inline_bytes", str), opt("bucket", str), opt("key", str), opt("sha256", str))
	execTarget  = object(req("node_id", str), req("status", execStatus), req("created_at", dateTime), req("updated_at", dateTime), opt("output_ref", outputRef))
	executionS  = object(req("id", str), req("project_id", str), req("domain_id", str), req("action", str), req("type", actionKind), req("status", execStatus), req("created_at", dateTime), req("updated_at", dateTime), req("targets", arrayOf(execTarget)))
	executionsS = object(req("items", arrayOf(executionS)), opt("next_cursor", orNull(str)))
	callbackS   = object(req("status", execStatus), opt("output_upload_url", str))
	// binary_checksum is format byte (base64 of 32 bytes) and nullable.
	capabilityRowS = object(req("node_id", str), req("domain_id", str), req("binary_version", str),
		opt("binary_checksum", orNull(str)), req("status", enum("match", "drift", "unknown")), req("reported_at", dateTime))
	capabilityRowsS = object(req("items", arrayOf(capabilityRowS)), opt("next_cursor", orNull(str)))
	hookS           = object(req("node_id", str), req("domain_id", str), req("name", str), req("image_digest", str), req("image_digest_match", boolean))
	hooksS          = object(req("items", arrayOf(hookS)), opt("next_cursor", orNull(str)))
	violationS      = object(req("id", str), req("node_id", str), req("domain_id", str), req("kind", enum("binary", "hook", "host_key")),
		req("status", enum("open", "acknowledged", "resolved")), req("artifact_id", str), req("detected_at", dateTime),
		opt("acknowledged_at", orNull(dateTime)), opt("acknowledged_by_subject", orNull(str)), opt("acknowledge_reason", orNull(str)))
	violationsS       = object(req("items", arrayOf(violationS)), opt("next_cursor", orNull(str)))
	violationsAcceptS = object(req("accepted_at", dateTime), req("violation_count", integer))
)

var (
	uuidRE        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	imageDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// TestActionsConformance drives the fleet-operation contract operations
// (dispatch, list, read, the node callback, capability manifests and
// inventory, hooks, integrity ingest, list and acknowledge) as the
// contract's generated client would, on both databases, and decodes every
// answer strictly. Beyond decodeStrict it checks the formats a generated
// client relies on (uuid ids, base64 bytes, the sha256 digest pattern,
// int32 counts) and the problem codes the contract names.
func TestActionsConformance(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			c := &client{env: apptest.Start(t, b)}
			c.actions(t)
		})
	}
}

// fleetWorld is what the fleet steps share.
type fleetWorld struct {
	pid, did string
	roleQ    string
	web      []apptest.Node // level 1, role=web
	agent    apptest.Node   // level 2, unlabelled
}

func (c *client) actions(t *testing.T) {
	e := c.env
	enr := e.NewEnrolment(t, "fleetops", "100.84.0.0/24", 3)
	w := &fleetWorld{pid: enr.Project.ID, did: enr.Domain.ID}
	def, q := e.DefineNodeLabel(t, w.did, "role")
	w.roleQ = q
	for _, h := range []string{"conf-web0", "conf-web1"} {
		n := e.RegisterNode(t, enr.Token.Token, h, nodeproto.Level1)
		e.LabelNode(t, def, n.ID, "web")
		w.web = append(w.web, n)
	}
	w.agent = e.RegisterNode(t, enr.Token.Token, "conf-agent", nodeproto.Level2)
	var fleetExec, oneExec string
	t.Run("DispatchExecution", func(t *testing.T) { fleetExec, oneExec = c.dispatchExecutions(t, w) })
	// Without executions the callback and read steps have nothing to
	// work on; the inventory and integrity steps still run.
	if fleetExec != "" && oneExec != "" {
		t.Run("PostNodeExecutionCallback", func(t *testing.T) { c.executionCallbacks(t, w, fleetExec, oneExec) })
		t.Run("GetExecution", func(t *testing.T) { c.getExecution(t, w, oneExec) })
		t.Run("ListExecutions", func(t *testing.T) { c.listExecutions(t, w) })
	}
	t.Run("PutNodeCapabilities", func(t *testing.T) { c.putCapabilities(t, w) })
	t.Run("ListCapabilities", func(t *testing.T) { c.listCapabilities(t, w) })
	t.Run("ListHooks", func(t *testing.T) { c.listHooks(t, w) })
	ingested := false
	t.Run("PostNodeIntegrityViolations", func(t *testing.T) { ingested = c.postViolations(t, w) })
	t.Run("ListIntegrityViolations", func(t *testing.T) { c.listViolations(t, w, ingested) })
	t.Run("AcknowledgeIntegrityViolation", func(t *testing.T) { c.acknowledgeViolation(t, w) })
}

// created sends an operator POST that the contract answers with 201 and a
// body of schema s, and returns the body decoded loosely.
func (c *client) created(t *testing.T, path string, body any, s *schema) map[string]any {
	t.Helper()
	st, raw := c.call(t, c.env.Token, "POST", path, body)
	if st != http.StatusCreated {
		t.Errorf("POST %s: status %d, the contract has 201: %s", path, st, raw)
		return nil
	}
	report(t, "POST", path, decodeStrict(raw, s))
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// refused is problem for an answer whose status the contract fixes but
// whose code it leaves open: the status and a Problem body.
func (c *client) refused(t *testing.T, bearer, method, path string, body any, status int) {
	t.Helper()
	st, raw := c.call(t, bearer, method, path, body)
	report(t, method, path+" (problem)", decodeStrict(raw, problemSchema))
	if st != status {
		t.Errorf("%s %s: got %d, the contract has %d: %s", method, path, st, status, raw)
	}
}

// denied is problem for a 403 the contract answers with a PermissionDenied
// body (reason and correlation_id required).
func (c *client) denied(t *testing.T, bearer, method, path string, body any, code string) {
	t.Helper()
	st, raw := c.call(t, bearer, method, path, body)
	report(t, method, path+" (PermissionDenied)", decodeStrict(raw, permissionDenied))
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(raw, &p)
	if st != http.StatusForbidden || p.Code != code {
		t.Errorf("%s %s: got %d %q, the contract has 403 %q: %s", method, path, st, p.Code, code, raw)
	}
}

// execution checks what decodeStrict lets pass on one Execution: uuid ids
// and an inline output_ref's bytes in base64.
func checkExecution(t *testing.T, op string, ex map[string]any) {
	t.Helper()
	for _, k := range []string{"id", "project_id", "domain_id"} {
		if !uuidRE.MatchString(str0(ex, k)) {
			t.Errorf("%s: %s %q is not a uuid", op, k, ex[k])
		}
	}
	targets, _ := ex["targets"].([]any)
	for _, tg := range targets {
		m, _ := tg.(map[string]any)
		if !uuidRE.MatchString(str0(m, "node_id")) {
			t.Errorf("%s: target node_id %q is not a uuid", op, m["node_id"])
		}
		if ref, _ := m["output_ref"].(map[string]any); ref != nil && ref["inline_bytes"] != nil {
			if _, err := base64.StdEncoding.DecodeString(str0(ref, "inline_bytes")); err != nil {
				t.Errorf("%s: output_ref.inline_bytes %q is not base64", op, ref["inline_bytes"])
			}
		}
	}
}

func (c *client) dispatchExecutions(t *testing.T, w *fleetWorld) (fleet, one string) {
	base := "/v1/projects/" + w.pid + "/executions:dispatch"
	ex := c.created(t, base, map[string]any{"action": "gather_info", "type": "builtin", "parameters": map[string]any{},
		"timeout_seconds": 60, "selector": w.roleQ + "=web"}, executionS)
	if ex != nil {
		checkExecution(t, "DispatchExecution (selector)", ex)
		if targets, _ := ex["targets"].([]any); len(targets) != len(w.web) || ex["status"] != "pending" || ex["action"] != "gather_info" ||
			ex["type"] != "builtin" || ex["project_id"] != w.pid || ex["domain_id"] != w.did {
			t.Errorf("DispatchExecution (selector): %v, want a pending builtin gather_info with %d targets", ex, len(w.web))
		}
		fleet = str0(ex, "id")
	}
	// type is optional (the contract's default is a built-in).
	ex = c.created(t, base, map[string]any{"action": "gather_info", "node_id": w.web[0].ID}, executionS)
	if ex != nil {
		checkExecution(t, "DispatchExecution (node_id)", ex)
		if targets, _ := ex["targets"].([]any); len(targets) != 1 {
			t.Errorf("DispatchExecution (node_id): %d targets, want 1", len(targets))
		}
		one = str0(ex, "id")
	}
	c.problem(t, c.env.Token, "POST", base, map[string]any{"action": "gather_info", "selector": w.roleQ + "=nobody"},
		422, "selector_empty_cohort")
	c.problem(t, c.env.Token, "POST", base, map[string]any{"action": "gather_info", "selector": "role in ("},
		400, "malformed_selector")
	c.problem(t, c.env.Token, "POST", base, map[string]any{"action": "format_disks", "selector": w.roleQ + "=web"},
		400, "action_not_declared")
	// Exactly one of node_id and selector: both, or neither, is a 400.
	c.refused(t, c.env.Token, "POST", base, map[string]any{"action": "gather_info", "node_id": w.web[0].ID,
		"selector": w.roleQ + "=web"}, 400)
	c.refused(t, c.env.Token, "POST", base, map[string]any{"action": "gather_info"}, 400)
	c.problem(t, c.env.Token, "POST", "/v1/projects/0190b6f2-0000-7000-8000-00000000e001/executions:dispatch",
		map[string]any{"action": "gather_info", "node_id": w.web[0].ID}, 404, "project_not_found")
	c.problem(t, "", "POST", base, map[string]any{"action": "gather_info", "node_id": w.web[0].ID}, 401, "unauthenticated")
	return fleet, one
}

// executionCallbacks drives the contract's callback along ack → started →
// succeeded on the single-node execution, and checks its refusals.
func (c *client) executionCallbacks(t *testing.T, w *fleetWorld, fleet, one string) {
	n := w.web[0]
	cb := "/v1/nodes/" + n.ID + "/executions/" + one
	for _, step := range []map[string]any{
		{"status": "ack"},
		{"status": "started"},
		{"status": "succeeded", "exit_code": 0, "output": map[string]any{"inline": base64.StdEncoding.EncodeToString([]byte("hello"))}},
	} {
		r := c.okAs(t, n.NSK, "POST", cb, step, callbackS)
		if r != nil && r["status"] != step["status"] {
			t.Errorf("callback %v: answered status %v, want the new status", step, r["status"])
		}
	}
	c.problem(t, n.NSK, "POST", cb, map[string]any{"status": "failed"}, 409, "execution_already_terminal")
	c.problem(t, n.NSK, "POST", "/v1/nodes/"+n.ID+"/executions/0190b6f2-0000-7000-8000-00000000e002",
		map[string]any{"status": "started"}, 404, "execution_not_found")
	// A status outside the closed set: 400 (no code named).
	c.refused(t, n.NSK, "POST", cb, map[string]any{"status": "bogus"}, 400)
	// Another node's NSK: 403 nsk_node_mismatch, a PermissionDenied body.
	c.denied(t, w.web[1].NSK, "POST", cb, map[string]any{"status": "started"}, "nsk_node_mismatch")
	// On the fleet execution: started, then back to ack is not an edge;
	// an inline output over 16 KiB is 413.
	n1 := w.web[1]
	fcb := "/v1/nodes/" + n1.ID + "/executions/" + fleet
	c.okAs(t, n1.NSK, "POST", fcb, map[string]any{"status": "started"}, callbackS)
	c.problem(t, n1.NSK, "POST", fcb, map[string]any{"status": "ack"}, 409, "invalid_state_transition")
	big := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 16<<10+1))
	c.problem(t, n1.NSK, "POST", fcb, map[string]any{"status": "succeeded", "exit_code": 0, "output": map[string]any{"inline": big}},
		413, "inline_output_too_large")
	c.okAs(t, n1.NSK, "POST", fcb, map[string]any{"status": "failed", "exit_code": 3}, callbackS)
}

func (c *client) getExecution(t *testing.T, w *fleetWorld, one string) {
	base := "/v1/projects/" + w.pid + "/executions/"
	ex := c.ok(t, "GET", base+one, nil, executionS)
	if ex == nil {
		return
	}
	checkExecution(t, "GetExecution", ex)
	targets, _ := ex["targets"].([]any)
	if ex["status"] != "succeeded" || len(targets) != 1 {
		t.Fatalf("GetExecution after the callbacks: %v", ex)
	}
	tg, _ := targets[0].(map[string]any)
	ref, _ := tg["output_ref"].(map[string]any)
	if got, _ := base64.StdEncoding.DecodeString(str0(ref, "inline_bytes")); ref == nil || ref["kind"] != "inline" || string(got) != "hello" {
		t.Errorf("GetExecution: output_ref %v, want the inline bytes the node sent", tg["output_ref"])
	}
	c.problem(t, c.env.Token, "GET", base+"0190b6f2-0000-7000-8000-00000000e003", nil, 404, "execution_not_found")
	c.problem(t, c.env.Token, "GET", base+"not-a-uuid", nil, 400, "invalid_execution_id")
}

func (c *client) listExecutions(t *testing.T, w *fleetWorld) {
	base := "/v1/projects/" + w.pid + "/executions"
	l := c.ok(t, "GET", base, nil, executionsS)
	if items, _ := l["items"].([]any); l != nil && len(items) != 2 {
		t.Errorf("ListExecutions: %d items, want 2", len(items))
	}
	page := c.ok(t, "GET", base+"?limit=1", nil, executionsS)
	next, _ := page["next_cursor"].(string)
	if next == "" {
		t.Errorf("ListExecutions: no next_cursor on a partial page: %v", page)
	} else {
		c.ok(t, "GET", base+"?limit=1&cursor="+next, nil, executionsS)
	}
	f := c.ok(t, "GET", base+"?status=succeeded&action_name=gather_info", nil, executionsS)
	if items, _ := f["items"].([]any); f != nil && len(items) != 1 {
		t.Errorf("ListExecutions status=succeeded: %d items, want 1", len(items))
	}
	c.problem(t, c.env.Token, "GET", base+"?cursor=tampered", nil, 400, "invalid_cursor")
	c.refused(t, c.env.Token, "GET", base+"?status=bogus", nil, 400)
	c.problem(t, c.env.Token, "GET", "/v1/projects/0190b6f2-0000-7000-8000-00000000e004/executions", nil, 404, "project_not_found")
}

// The contract's capability manifest of the level-2 node.
var (
	agentChecksum = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5e}, 32))
	hookChecksum  = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x7a}, 32))
	agentDigest   = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func agentManifest() map[string]any {
	return map[string]any{"binary_version": "plexd-conformance-1", "binary_checksum": agentChecksum,
		"ssh_host_key_fingerprint": "SHA256:6QGz1Q4iE2zG5p2N3oRZb8ZsT4nKqJgY3oZmP8eFvWk=",
		"declared_hooks":           []any{map[string]any{"name": "post-install", "checksum": hookChecksum}},
		"plexd_hooks": []any{map[string]any{"name": "nightly-backup", "image_digest": agentDigest,
			"parameters": map[string]any{"retention": "7d"}, "timeout_seconds": 300, "sandbox": true}}}
}

func (c *client) putCapabilities(t *testing.T, w *fleetWorld) {
	a := w.agent
	path := "/v1/nodes/" + a.ID + "/capabilities"
	c.okAs(t, a.NSK, "PUT", path, agentManifest(), capabilityManifest)
	// The same manifest again: nothing changed.
	r := c.okAs(t, a.NSK, "PUT", path, agentManifest(), capabilityManifest)
	if fc, _ := r["fields_changed"].([]any); r != nil && (len(fc) != 0 || r["host_key_changed"] != false) {
		t.Errorf("PutNodeCapabilities repeat: %v, want no fields changed", r)
	}
	bad := agentManifest()
	bad["binary_checksum"] = base64.StdEncoding.EncodeToString([]byte("short"))
	c.problem(t, a.NSK, "PUT", path, bad, 400, "binary_checksum_invalid")
	c.denied(t, w.web[0].NSK, "PUT", path, agentManifest(), "node_id_mismatch")
	c.problem(t, "not-a-node-secret-key", "PUT", path, agentManifest(), 401, "unauthorized")
	// A level-1 manifest (ours: builtin actions and a script hook) gets the
	// same answer.
	n1 := w.web[1]
	c.okAs(t, n1.NSK, "PUT", "/v1/nodes/"+n1.ID+"/capabilities", nodeproto.Capabilities{
		Binary:         &nodeproto.BinaryInfo{Version: "1.4.0", Checksum: strings.Repeat("ab", 32)},
		BuiltinActions: []nodeproto.BuiltinAction{{Name: "gather_info"}},
		Hooks:          []nodeproto.Hook{{Name: "backup", Checksum: strings.Repeat("cd", 32)}}}, capabilityManifest)
}

func (c *client) listCapabilities(t *testing.T, w *fleetWorld) {
	base := "/v1/projects/" + w.pid + "/capabilities"
	l := c.ok(t, "GET", base, nil, capabilityRowsS)
	items, _ := l["items"].([]any)
	var row map[string]any
	for _, it := range items {
		m, _ := it.(map[string]any)
		c.checkCapabilityRow(t, m)
		if m["node_id"] == w.agent.ID {
			row = m
		}
	}
	if row == nil {
		t.Fatalf("ListCapabilities: no row for the node that reported a manifest: %v", items)
	}
	if row["binary_version"] != "plexd-conformance-1" || row["binary_checksum"] != agentChecksum || row["domain_id"] != w.did {
		t.Errorf("ListCapabilities: row %v, want the reported binary_version and base64 binary_checksum", row)
	}
	one := c.ok(t, "GET", base+"?node_id="+w.agent.ID, nil, capabilityRowsS)
	if items, _ := one["items"].([]any); one != nil && len(items) != 1 {
		t.Errorf("ListCapabilities node_id: %d items, want 1", len(items))
	}
	for _, s := range []string{"match", "drift", "unknown"} {
		c.ok(t, "GET", base+"?status="+s, nil, capabilityRowsS)
	}
	page := c.ok(t, "GET", base+"?limit=1", nil, capabilityRowsS)
	if next, _ := page["next_cursor"].(string); next == "" {
		t.Errorf("ListCapabilities: no next_cursor on a partial page: %v", page)
	} else {
		c.ok(t, "GET", base+"?limit=1&cursor="+next, nil, capabilityRowsS)
	}
	c.problem(t, c.env.Token, "GET", base+"?cursor=tampered", nil, 400, "invalid_cursor")
	c.refused(t, c.env.Token, "GET", base+"?node_id=not-a-uuid", nil, 400)
	c.refused(t, c.env.Token, "GET", base+"?status=bogus", nil, 400)
}

// checkCapabilityRow: uuid ids, binary_checksum base64 of 32 bytes.
func (c *client) checkCapabilityRow(t *testing.T, m map[string]any) {
	t.Helper()
	if !uuidRE.MatchString(str0(m, "node_id")) || !uuidRE.MatchString(str0(m, "domain_id")) {
		t.Errorf("ListCapabilities: ids of %v are not uuids", m)
	}
	// reported_at is when the node reported its manifest: a placeholder
	// (the Unix epoch) for a node that never did is not a report time.
	if at, err := time.Parse(time.RFC3339, str0(m, "reported_at")); err == nil && at.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ListCapabilities: row %v carries a placeholder reported_at %s (a node that never reported a manifest)", m["node_id"],
			m["reported_at"])
	}
	if v, ok := m["binary_checksum"].(string); ok {
		if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) != 32 {
			t.Errorf("ListCapabilities: binary_checksum %q is not base64 of 32 bytes", v)
		}
	}
}

func (c *client) listHooks(t *testing.T, w *fleetWorld) {
	l := c.ok(t, "GET", "/v1/hooks?project_id="+w.pid, nil, hooksS)
	items, _ := l["items"].([]any)
	found := false
	for _, it := range items {
		m, _ := it.(map[string]any)
		if !imageDigestRE.MatchString(str0(m, "image_digest")) {
			t.Errorf("ListHooks: image_digest %q is not sha256:<64 lowercase hex>", m["image_digest"])
		}
		if m["node_id"] == w.agent.ID && m["name"] == "nightly-backup" && m["image_digest"] == agentDigest {
			found = true
		}
	}
	// ListHooks lists the discovered hooks a manifest reports (the
	// contract's plexd_hooks, with their image_digest).
	if l != nil && !found {
		t.Errorf("ListHooks: the agent's discovered hook nightly-backup (%s) is not listed: %v", agentDigest, items)
	}
	c.ok(t, "GET", "/v1/hooks?image_digest_match=true&domain_id="+w.did, nil, hooksS)
	c.ok(t, "GET", "/v1/hooks?image_digest_match=false", nil, hooksS)
	c.problem(t, c.env.Token, "GET", "/v1/hooks?cursor=tampered", nil, 400, "invalid_cursor")
	c.refused(t, c.env.Token, "GET", "/v1/hooks?image_digest_match=maybe", nil, 400)
	c.refused(t, c.env.Token, "GET", "/v1/hooks?project_id=not-a-uuid", nil, 400)
}

// postViolations sends the contract's batch form and reports whether it
// was accepted; the level-1 form (ours) gives the list something to show
// either way.
func (c *client) postViolations(t *testing.T, w *fleetWorld) bool {
	n1 := w.web[1]
	v1 := nodeproto.IntegrityViolation{Type: nodeproto.IntegrityHook, Path: "backup", ExpectedChecksum: strings.Repeat("cd", 32),
		ActualChecksum: strings.Repeat("ef", 32), Detail: "checksum mismatch", Timestamp: time.Now().UTC()}
	if st, raw := c.call(t, n1.NSK, "POST", "/v1/nodes/"+n1.ID+"/integrity/violations", v1); st != http.StatusNoContent {
		t.Fatalf("level-1 violation: %d %s", st, raw)
	}
	a := w.agent
	path := "/v1/nodes/" + a.ID + "/integrity-violations"
	batch := map[string]any{"violations": []any{
		map[string]any{"kind": "hook_checksum", "detected_by": "pre_dispatch", "artifact_id": "post-install",
			"observed_checksum": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), "expected_checksum": hookChecksum},
		map[string]any{"kind": "binary_checksum", "detected_by": "startup_scan", "artifact_id": "plexd",
			"observed_checksum": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))},
		map[string]any{"kind": "ssh_host_key", "detected_by": "inotify", "artifact_id": "ssh_host_ed25519_key.pub",
			"observed_fingerprint": "SHA256:7QGz1Q4iE2zG5p2N3oRZb8ZsT4nKqJgY3oZmP8eFvWk=",
			"expected_fingerprint": "SHA256:6QGz1Q4iE2zG5p2N3oRZb8ZsT4nKqJgY3oZmP8eFvWk="},
	}}
	st, raw := c.call(t, a.NSK, "POST", path, batch)
	accepted := st/100 == 2
	if st != http.StatusAccepted {
		t.Errorf("POST %s: status %d, the contract has 202: %s", path, st, raw)
	}
	if accepted {
		report(t, "POST", path, decodeStrict(raw, violationsAcceptS))
		var r struct {
			Count json.Number `json:"violation_count"`
		}
		json.Unmarshal(raw, &r)
		if n, err := r.Count.Int64(); err != nil || n != 3 || n > math.MaxInt32 {
			t.Errorf("POST %s: violation_count %s, want 3 (an int32)", path, r.Count)
		}
	}
	c.problem(t, a.NSK, "POST", path, map[string]any{"violations": []any{}}, 400, "integrity_violations_empty")
	c.problem(t, a.NSK, "POST", path, map[string]any{"violations": []any{map[string]any{"kind": "kernel", "detected_by": "inotify",
		"artifact_id": "x", "observed_checksum": agentChecksum}}}, 400, "integrity_violation_kind_invalid")
	c.problem(t, a.NSK, "POST", path, map[string]any{"violations": []any{map[string]any{"kind": "binary_checksum",
		"detected_by": "startup_scan", "artifact_id": "plexd", "observed_checksum": base64.StdEncoding.EncodeToString([]byte("short"))}}},
		400, "integrity_violation_checksum_invalid")
	c.problem(t, a.NSK, "POST", path, map[string]any{"violations": []any{map[string]any{"kind": "binary_checksum",
		"detected_by": "startup_scan", "artifact_id": "plexd", "observed_checksum": agentChecksum}}, "extra": true},
		400, "malformed_integrity_violations_request")
	c.denied(t, n1.NSK, "POST", path, batch, "node_id_mismatch")
	c.problem(t, "not-a-node-secret-key", "POST", path, batch, 401, "unauthorized")
	return accepted
}

func (c *client) listViolations(t *testing.T, w *fleetWorld, ingested bool) {
	base := "/v1/integrity-violations"
	l := c.ok(t, "GET", base, nil, violationsS)
	items, _ := l["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		c.checkViolation(t, m)
	}
	open := c.ok(t, "GET", base+"?status=open&node_id="+w.web[1].ID, nil, violationsS)
	if items, _ := open["items"].([]any); open != nil && len(items) != 1 {
		t.Errorf("ListIntegrityViolations: %d open on the node, want 1", len(items))
	}
	c.ok(t, "GET", base+"?kind=hook&project_id="+w.pid+"&domain_id="+w.did, nil, violationsS)
	if ingested {
		got := c.ok(t, "GET", base+"?node_id="+w.agent.ID, nil, violationsS)
		items, _ := got["items"].([]any)
		kinds := map[any]bool{}
		for _, it := range items {
			m, _ := it.(map[string]any)
			kinds[m["kind"]] = true
		}
		if len(items) != 3 || !kinds["binary"] || !kinds["hook"] || !kinds["host_key"] {
			t.Errorf("ListIntegrityViolations after the batch: %v, want binary, hook and host_key rows", items)
		}
	}
	page := c.ok(t, "GET", base+"?limit=1", nil, violationsS)
	if next, _ := page["next_cursor"].(string); next == "" && len(items) > 1 {
		t.Errorf("ListIntegrityViolations: no next_cursor on a partial page: %v", page)
	} else if next != "" {
		c.ok(t, "GET", base+"?limit=1&cursor="+next, nil, violationsS)
	}
	c.problem(t, c.env.Token, "GET", base+"?cursor=tampered", nil, 400, "invalid_cursor")
	c.refused(t, c.env.Token, "GET", base+"?kind=kernel", nil, 400)
	c.refused(t, c.env.Token, "GET", base+"?node_id=not-a-uuid", nil, 400)
}

// checkViolation: uuid ids, and the acknowledgement members absent or
// null while open, set once acknowledged.
func (c *client) checkViolation(t *testing.T, m map[string]any) {
	t.Helper()
	for _, k := range []string{"id", "node_id", "domain_id"} {
		if !uuidRE.MatchString(str0(m, k)) {
			t.Errorf("IntegrityViolationRow: %s %q is not a uuid", k, m[k])
		}
	}
	acked := m["acknowledged_at"] != nil || m["acknowledged_by_subject"] != nil || m["acknowledge_reason"] != nil
	switch m["status"] {
	case "open":
		if acked {
			t.Errorf("IntegrityViolationRow: an open row carries acknowledgement members: %v", m)
		}
	case "acknowledged":
		if m["acknowledged_at"] == nil || m["acknowledged_by_subject"] == nil || m["acknowledge_reason"] == nil {
			t.Errorf("IntegrityViolationRow: an acknowledged row lacks acknowledgement members: %v", m)
		}
	}
}

func (c *client) acknowledgeViolation(t *testing.T, w *fleetWorld) {
	l := c.ok(t, "GET", "/v1/integrity-violations?status=open&node_id="+w.web[1].ID, nil, violationsS)
	items, _ := l["items"].([]any)
	if len(items) == 0 {
		t.Fatal("no open violation to acknowledge")
	}
	v, _ := items[0].(map[string]any)
	path := "/v1/integrity-violations/" + str0(v, "id") + "/acknowledge"
	c.problem(t, c.env.Token, "POST", path, map[string]any{"reason": "   "}, 400, "invalid_acknowledge_reason")
	row := c.ok(t, "POST", path, map[string]any{"reason": "hook updated by the backup team"}, violationS)
	if row != nil {
		c.checkViolation(t, row)
		if row["status"] != "acknowledged" || row["acknowledge_reason"] != "hook updated by the backup team" {
			t.Errorf("AcknowledgeIntegrityViolation: %v", row)
		}
	}
	c.problem(t, c.env.Token, "POST", path, map[string]any{"reason": "again"}, 409, "illegal_transition")
	c.problem(t, c.env.Token, "POST", "/v1/integrity-violations/0190b6f2-0000-7000-8000-00000000e005/acknowledge",
		map[string]any{"reason": "x"}, 404, "integrity_violation_not_found")
	c.problem(t, c.env.Token, "POST", "/v1/integrity-violations/not-a-uuid/acknowledge", map[string]any{"reason": "x"},
		400, "invalid_integrity_violation_id")
	c.ok(t, "GET", "/v1/integrity-violations?status=acknowledged", nil, violationsS)
}
