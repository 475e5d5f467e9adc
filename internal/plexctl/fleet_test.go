package plexctl

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 14: capabilities list resolves --node names, sends the filters
// and shows each node's manifest and drift status.
func TestCapabilitiesList(t *testing.T) {
	h := newHarness(t)
	newExecFake(t, h)
	sum := make([]byte, 32)
	sum[0] = 0xab
	h.srv.JSON("GET /v1/projects/{pid}/capabilities", 200, apiv1.List[apiclient.CapabilityRow]{Items: []apiclient.CapabilityRow{
		{NodeID: execNode1, Status: "drift", BinaryVersion: "v1.4.0", BinaryChecksum: sum,
			BuiltinActions: []string{"gather_info", "ping"}, Hooks: []string{"rotate-logs"}, ReportedAt: testNow},
	}})
	r := h.ok("capabilities", "list", "--project", execProject, "--node", "web-1", "--status", "drift")
	last := h.srv.Last()
	if last.Path != "/v1/projects/"+execProject+"/capabilities" || last.Query.Get("node_id") != execNode1 ||
		last.Query.Get("status") != "drift" {
		t.Errorf("request = %s", last.Pattern())
	}
	want := execNode1 + "   drift    v1.4.0    ab0000000000…   gather_info,ping   rotate-logs   2025-06-01T12:00:00Z"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	h.fail(ExitUsage, []string{`invalid --status "drifted"`}, "capabilities", "list", "--project", execProject,
		"--status", "drifted")
}

// Issue 14: hooks list sends image_digest_match for --match/--mismatch.
func TestHooksList(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("GET /v1/hooks", 200, apiv1.List[apiclient.DiscoveredHook]{Items: []apiclient.DiscoveredHook{
		{NodeID: execNode1, Name: "rotate-logs", ImageDigest: "sha256:abc", ImageDigestMatch: false, DomainID: "d1"},
	}})
	r := h.ok("hooks", "list", "--project", execProject, "--mismatch")
	if q := h.srv.Last().Query; q.Get("image_digest_match") != "false" || q.Get("project_id") != execProject {
		t.Errorf("query = %v", q)
	}
	if !strings.Contains(r.stdout, "rotate-logs   sha256:abc   no") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	h.ok("hooks", "list", "--match")
	if q := h.srv.Last().Query; q.Get("image_digest_match") != "true" {
		t.Errorf("query = %v", q)
	}
	h.ok("hooks", "list")
	if q := h.srv.Last().Query; q.Has("image_digest_match") {
		t.Errorf("query = %v", q)
	}
	h.fail(ExitUsage, []string{"exclude each other"}, "hooks", "list", "--match", "--mismatch")
}

// Issue 14: integrity list sends every filter; integrity ack posts the
// reason and shows the acknowledged violation.
func TestIntegrityListAndAck(t *testing.T) {
	h := newHarness(t)
	newExecFake(t, h)
	v := apiclient.IntegrityViolation{ID: violationID, NodeID: execNode2, DomainID: "d1", Kind: "hook", Status: "open",
		ArtifactID: "rotate-logs", DetectedAt: testNow, ExpectedChecksum: "aa", ActualChecksum: "bb"}
	h.srv.JSON("GET /v1/integrity-violations", 200, apiv1.List[apiclient.IntegrityViolation]{Items: []apiclient.IntegrityViolation{v}})
	r := h.ok("integrity", "list", "--domain", "d1", "--project", execProject, "--node", "web-2", "--kind", "hook",
		"--status", "open")
	q := h.srv.Last().Query
	if q.Get("domain_id") != "d1" || q.Get("project_id") != execProject || q.Get("node_id") != execNode2 ||
		q.Get("kind") != "hook" || q.Get("status") != "open" {
		t.Errorf("query = %v", q)
	}
	if !strings.Contains(r.stdout, violationID+"   "+execNode2+"   hook   rotate-logs   open") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	h.fail(ExitUsage, []string{`invalid --kind "file"`}, "integrity", "list", "--kind", "file")

	acked := v
	acked.Status, acked.AcknowledgeReason, acked.AcknowledgedBySubject = "acknowledged", "hook updated", "user:alice"
	acked.AcknowledgedAt = &testNow
	h.srv.JSON("POST /v1/integrity-violations/{id}/acknowledge", 200, acked)
	r = h.ok("integrity", "ack", violationID, "--reason", "hook updated")
	last := h.srv.Last()
	if last.Path != "/v1/integrity-violations/"+violationID+"/acknowledge" {
		t.Errorf("ack sent %s", last.Pattern())
	}
	var body apiv1.IntegrityViolationAcknowledgeRequest
	if err := json.Unmarshal(last.Body, &body); err != nil || body.Reason != "hook updated" {
		t.Errorf("ack body %s: %v", last.Body, err)
	}
	for _, w := range []string{"Status:             acknowledged", "Acknowledged by:    user:alice", "Reason:             hook updated"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("ack stdout lacks %q:\n%s", w, r.stdout)
		}
	}
	n := len(h.srv.Requests())
	h.fail(ExitUsage, []string{"--reason is required"}, "integrity", "ack", violationID)
	if len(h.srv.Requests()) != n {
		t.Errorf("ack without a reason sent a request")
	}
}

// Issue 14: acknowledging is step-up sensitive: a 401 step_up_required
// says so, with the required acr and the problem itself.
func TestIntegrityAckStepUp(t *testing.T) {
	h := newHarness(t)
	h.srv.Handle("POST /v1/integrity-violations/{id}/acknowledge", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="phr"`)
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 401, Code: "step_up_required", Title: "Unauthorized",
			Detail: "This operation needs a stronger sign-in."})
	})
	h.fail(ExitError, []string{
		"Error: acknowledging an integrity violation is a step-up operation",
		"Sign in again with a stronger method ('plexctl login')",
		"(required acr: phr)",
		"Unauthorized: This operation needs a stronger sign-in. (code step_up_required)",
	}, "integrity", "ack", violationID, "--reason", "checked")
}
