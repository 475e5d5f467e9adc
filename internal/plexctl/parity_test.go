package plexctl

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// withoutCommand are the operations of the OpenAPI document that plexctl
// deliberately has no command for, each with the reason. Keep it short:
// every entry is reviewed, and an operator operation belongs in plexctl.
var withoutCommand = map[string]string{
	// Probes.
	"getReadiness": "probe-only: the status-code form of getHealth for load balancers; plexctl health shows the same checks and exits 1 when one fails",
	"getDocs":      "browser-only: the API reference page, for a browser; plexctl openapi prints the document it renders",
	"getDocsAsset": "browser-only: a file the /v1/docs page loads",
	// Node plane: called by plexd with a bootstrap token or its NSK.
	"registerNode":                "node-only: plexd enrols with a bootstrap token",
	"getNodeState":                "node-only: plexd reads its desired state with its NSK",
	"streamNodeEvents":            "node-only: plexd's SSE event stream, NSK-authenticated",
	"postNodeHeartbeat":           "node-only: plexd's heartbeat, NSK-authenticated",
	"postNodeReport":              "node-only: plexd's state report, NSK-authenticated",
	"postNodeDrift":               "node-only: plexd's drift report, NSK-authenticated",
	"postNodeAudit":               "node-only: plexd's local audit upload, NSK-authenticated",
	"postNodeLogs":                "node-only: plexd's log upload, NSK-authenticated",
	"postNodeMetrics":             "node-only: plexd's metrics upload, NSK-authenticated",
	"putNodeCapabilities":         "node-only: plexd declares its capabilities, NSK-authenticated",
	"postNodeDeregister":          "node-only: plexd deregisters itself; operators use 'plexctl nodes delete'",
	"getNodeSecret":               "node-only: a node fetches its own secrets with its NSK",
	"putNodeSealingKey":           "node-only: plexd registers its own secret-sealing key with its NSK",
	"getNodeReachability":         "node-only: a node reads its own reachability with its NSK; operators see it in 'plexctl nodes get'",
	"putNodeEndpoint":             "node-only: plexd reports its own public endpoint with its NSK; operators see paths in 'plexctl nodes reachability'",
	"postKeysRotate":              "node-only: plexd reports its new WireGuard key with its NSK; operators start a rotation with 'plexctl nodes rotate-keys'",
	"serviceToken":                "workload-only: a service identity's client-credentials grant, run by the workload itself",
	"authCallback":                "browser-only: the IdP redirects the browser here after sign-in",
	"signIn":                      "browser-only: starts the browser's redirect to the IdP",
	"signOut":                     "browser-only: ends the cookie session of the browser",
	"signOutGlobal":               "browser-only: session callers only (tokens get 403 session_required)",
	"deviceApprove":               "browser-only: the /device page approves a device login with the cookie session",
	"PostNodeSessionCallback":     "node-only: plexd reports session activity with its NSK; operators read it in 'plexctl sessions get'",
	"postNodeSessionRecording":    "node-only: plexd uploads an ssh session's recording with its NSK; operators replay it with 'plexctl sessions play'",
	"postNodeExecutionAck":        "node-only: plexd acknowledges an execution with its NSK; operators follow it with 'plexctl exec watch'",
	"postNodeExecutionResult":     "node-only: plexd posts an execution's result with its NSK; operators read it with 'plexctl exec get'",
	"PostNodeExecutionCallback":   "node-only: the contract's execution callback, NSK-authenticated; operators read results with 'plexctl exec get'",
	"GetMetrics":                  "scraped by Prometheus (bearer token of an identity with platform#auditor); see docs/observability.md",
	"PostNodeIntegrityViolations": "node-only: a node reports integrity violations, NSK-authenticated; operators read them with 'plexctl integrity list'",
	"postNodeIntegrityViolation":  "node-only: plexd reports an integrity violation with its NSK; operators see it with 'plexctl integrity list'",
}

// notProvisioned reports whether the document marks op as a contract
// operation this server does not serve yet (it answers 501): any
// x-…not-provisioned extension set to a truthy value.
func notProvisioned(op map[string]json.RawMessage) bool {
	for k, v := range op {
		k = strings.ToLower(k)
		if !strings.HasPrefix(k, "x-") || !strings.Contains(strings.ReplaceAll(k, "_", "-"), "not-provisioned") {
			continue
		}
		s := strings.TrimSpace(string(v))
		if s != "false" && s != "null" && s != `""` {
			return true
		}
	}
	return false
}

type documentedOp struct{ id, method, path string }

// documentedOperations reads the OpenAPI document of a real control plane
// and returns its operations, without the not-provisioned ones.
func documentedOperations(t *testing.T) []documentedOp {
	t.Helper()
	e := apptest.Start(t, apptest.SQLite)
	st, raw := e.DoAs(t, "", "GET", "/v1/openapi.json", nil, nil)
	if st != 200 {
		t.Fatalf("GET /v1/openapi.json: %d", st)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []documentedOp
	skipped := 0
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			var op map[string]json.RawMessage
			if json.Unmarshal(rawOp, &op) != nil || op["operationId"] == nil {
				continue // parameters, summary, …: not an operation
			}
			var id string
			if err := json.Unmarshal(op["operationId"], &id); err != nil || id == "" {
				t.Fatalf("%s %s: bad operationId %s", method, path, op["operationId"])
			}
			if notProvisioned(op) {
				skipped++
				continue
			}
			ops = append(ops, documentedOp{id, strings.ToUpper(method), path})
		}
	}
	if len(ops) < 50 {
		t.Fatalf("only %d operations in the document: is it the real one?", len(ops))
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	t.Logf("%d operations served, %d marked not provisioned", len(ops), skipped)
	return ops
}

// Issue 8 (plexctl parity): every operation of the API an operator can
// reach has a plexctl command. Commands declare the operation ids they
// call with calls (ops.go); this test walks the command tree, reads the
// real server's OpenAPI document, and fails on an operation that no
// command declares and withoutCommand does not excuse, on a declared id
// the document lacks, and on stale or unexplained allow-list entries.
func TestEveryOperatorOperationHasACommand(t *testing.T) {
	ops := documentedOperations(t)
	declared := declaredOperations(newApp(nil, io.Discard, io.Discard, nil).rootCommand())
	inDoc := map[string]bool{}
	for _, op := range ops {
		inDoc[op.id] = true
		cmds, hasCmd := declared[op.id]
		reason, excused := withoutCommand[op.id]
		switch {
		case hasCmd && excused:
			t.Errorf("%s (%s %s) has a command (%s): remove it from withoutCommand", op.id, op.method, op.path,
				strings.Join(cmds, ", "))
		case !hasCmd && !excused:
			t.Errorf("%s (%s %s) has no plexctl command: add one and declare it with calls(cmd, %q), "+
				"or add it to withoutCommand with the reason", op.id, op.method, op.path, op.id)
		case excused && reason == "":
			t.Errorf("withoutCommand[%q] gives no reason", op.id)
		}
	}
	for id, cmds := range declared {
		if !inDoc[id] {
			t.Errorf("%s declares operation %q, which the OpenAPI document does not have (or marks not provisioned)",
				strings.Join(cmds, ", "), id)
		}
	}
	for id := range withoutCommand {
		if !inDoc[id] {
			t.Errorf("withoutCommand[%q] names no operation of the document: remove it", id)
		}
	}
}

// Issue 8 (plexctl parity): only operations marked not provisioned leave
// the parity check; an unmarked or explicitly false marker keeps them in.
func TestNotProvisionedMarker(t *testing.T) {
	cases := map[string]bool{
		`{"operationId":"a"}`: false,
		`{"operationId":"a","x-plexsphere-not-provisioned":false}`:   false,
		`{"operationId":"a","x-plexsphere-not-provisioned":true}`:    true,
		`{"operationId":"a","x-plexsphere-not-provisioned":"idp"}`:   true,
		`{"operationId":"a","x-plexsphere-not_provisioned":{"a":1}}`: true,
		`{"operationId":"a","not-provisioned":true}`:                 false,
	}
	for in, want := range cases {
		var op map[string]json.RawMessage
		if err := json.Unmarshal([]byte(in), &op); err != nil {
			t.Fatal(err)
		}
		if got := notProvisioned(op); got != want {
			t.Errorf("notProvisioned(%s) = %v, want %v", in, got, want)
		}
	}
}
