package actions_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// sent are the nodes of f that have been handed an action_request.
func (f *fleet) sent(t testing.TB) []int {
	t.Helper()
	var out []int
	for i, n := range f.nodes {
		if len(f.requests(t, n.ID)) > 0 {
			out = append(out, i)
		}
	}
	return out
}

// TestRolloutBatches: with batch_size 2 the next two targets start only
// once both of the batch before have ended, whatever max_in_flight
// allows; the execution reads its batch size back.
func TestRolloutBatches(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) { testRolloutBatches(t, b) })
	}
}

func testRolloutBatches(t *testing.T, b apptest.Backend) {
	f := newFleet(t, b, 5)
	var ex apiv1.Execution
	if st, raw := f.e.Do(t, "POST", f.path(":dispatch"), apiv1.DispatchExecutionRequest{Action: "gather_info",
		Selector: f.roleQ + "=web", BatchSize: 2}, &ex); st != 201 || ex.BatchSize != 2 {
		t.Fatalf("dispatch: %d %s", st, raw)
	}
	order := make([]int, 0, 5) // node indexes in the rollout's order
	for _, tg := range f.get(t, ex.ID).Targets {
		order = append(order, slices.IndexFunc(f.nodes, func(n apptest.Node) bool { return n.ID == tg.NodeID }))
	}
	want := func(step string, n int) {
		t.Helper()
		got := f.sent(t)
		if !slices.Equal(got, slices.Sorted(slices.Values(order[:n]))) {
			t.Fatalf("%s: sent to %v, want the first %d of %v", step, got, n, order)
		}
	}
	want("at dispatch", 2)
	f.result(t, f.nodes[order[0]], ex.ID, nodeproto.ResultSuccess, 0)
	want("one of the first batch done", 2)
	f.result(t, f.nodes[order[1]], ex.ID, nodeproto.ResultFailed, 3)
	want("first batch done", 4)
	f.result(t, f.nodes[order[3]], ex.ID, nodeproto.ResultSuccess, 0)
	f.result(t, f.nodes[order[2]], ex.ID, nodeproto.ResultSuccess, 0)
	want("second batch done", 5)
	f.result(t, f.nodes[order[4]], ex.ID, nodeproto.ResultSuccess, 0)
	if got := f.get(t, ex.ID); got.Status != "failed" {
		t.Errorf("final status %s, want failed (one target failed)", got.Status)
	}
}

func b64sum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestIntegrityViolationBatches: the contract's node intake takes a batch
// of 1–128 violations whole or refuses it whole with the contract's code;
// an accepted batch drifts the node and is listed with its kinds.
func TestIntegrityViolationBatches(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 2)
	n := f.nodes[0]
	path := "/v1/nodes/" + n.ID + "/integrity-violations"
	post := func(nd apptest.Node, body string) (int, []byte) {
		t.Helper()
		resp, raw := f.e.NodeSendRaw(t, nd, "POST", path, []byte(body), http.Header{"Content-Type": {"application/json"}})
		return resp.StatusCode, raw
	}
	hook := fmt.Sprintf(`{"kind":"hook_checksum","detected_by":"pre_dispatch","artifact_id":"backup","observed_checksum":%q,"expected_checksum":%q}`,
		b64sum("tampered"), b64sum("declared"))
	many := strings.TrimSuffix(strings.Repeat(hook+",", 129), ",")
	for _, c := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"not json", `{"violations":`, 400, "malformed_integrity_violations_request"},
		{"unknown field", `{"violations":[],"extra":1}`, 400, "malformed_integrity_violations_request"},
		{"empty", `{"violations":[]}`, 400, "integrity_violations_empty"},
		{"too many", `{"violations":[` + many + `]}`, 400, "integrity_violations_too_many"},
		{"kind", `{"violations":[{"kind":"binary","detected_by":"inotify","artifact_id":"x","observed_checksum":"` + b64sum("x") + `"}]}`, 400, "integrity_violation_kind_invalid"},
		{"detector", `{"violations":[{"kind":"binary_checksum","detected_by":"cron","artifact_id":"x","observed_checksum":"` + b64sum("x") + `"}]}`, 400, "integrity_violation_detected_by_invalid"},
		{"artifact", `{"violations":[{"kind":"binary_checksum","detected_by":"inotify","artifact_id":"  ","observed_checksum":"` + b64sum("x") + `"}]}`, 400, "integrity_violation_artifact_id_empty"},
		{"checksum", `{"violations":[{"kind":"binary_checksum","detected_by":"inotify","artifact_id":"plexd","observed_checksum":"AAAA"}]}`, 400, "integrity_violation_checksum_invalid"},
		{"mismatch", `{"violations":[{"kind":"ssh_host_key","detected_by":"inotify","artifact_id":"k","observed_checksum":"` + b64sum("x") + `"}]}`, 400, "integrity_violation_kind_mismatch"},
		{"fingerprint", `{"violations":[{"kind":"ssh_host_key","detected_by":"inotify","artifact_id":"k","observed_fingerprint":"MD5:aa"}]}`, 400, "integrity_violation_host_key_fingerprint_invalid"},
		{"one bad entry spoils the batch", `{"violations":[` + hook + `,{"kind":"hook_checksum"}]}`, 400, "integrity_violation_detected_by_invalid"},
		{"too large", `{"violations":[{"kind":"hook_checksum","artifact_id":"` + strings.Repeat("a", 33<<10) + `"}]}`, 413, ""},
	} {
		if st, raw := post(n, c.body); st != c.status || c.code != "" && code(raw) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, raw, c.status, c.code)
		}
	}
	if st, raw := post(f.nodes[1], `{"violations":[`+hook+`]}`); st != 403 || code(raw) != "node_id_mismatch" {
		t.Errorf("another node's credential: %d %s", st, raw)
	}
	var none apiv1.List[apiv1.IntegrityViolationRow]
	f.e.Do(t, "GET", "/v1/integrity-violations?node_id="+n.ID, nil, &none)
	if len(none.Items) != 0 {
		t.Fatalf("a refused batch left %d rows", len(none.Items))
	}
	hostKey := `{"kind":"ssh_host_key","detected_by":"startup_scan","artifact_id":"ssh_host_ed25519_key","observed_fingerprint":"SHA256:` +
		strings.TrimRight(b64sum("new key"), "=") + `"}`
	st, raw := post(n, `{"violations":[`+hook+`,`+hostKey+`]}`)
	var receipt apiv1.IntegrityViolationsResponse
	if json.Unmarshal(raw, &receipt); st != 202 || receipt.ViolationCount != 2 || receipt.AcceptedAt.IsZero() {
		t.Fatalf("batch: %d %s", st, raw)
	}
	var vs apiv1.List[apiv1.IntegrityViolationRow]
	f.e.Do(t, "GET", "/v1/integrity-violations?node_id="+n.ID, nil, &vs)
	kinds := map[string]apiv1.IntegrityViolationRow{}
	for _, v := range vs.Items {
		kinds[v.Kind] = v
	}
	sum := sha256.Sum256([]byte("tampered"))
	if len(vs.Items) != 2 || kinds["hook"].ArtifactID != "backup" || kinds["hook"].ActualChecksum != fmt.Sprintf("%x", sum) ||
		kinds["host_key"].ArtifactID != "ssh_host_ed25519_key" {
		t.Errorf("listed: %+v", vs.Items)
	}
	var pre apiv1.DispatchPreview
	if st, raw := f.e.Do(t, "POST", f.path(":preview"), apiv1.DispatchExecutionRequest{Action: "gather_info", Selector: f.roleQ + "=web"}, &pre); st != 200 ||
		len(pre.Skipped) != 1 || pre.Skipped[0].NodeID != n.ID || pre.Skipped[0].Reason != "drifted" {
		t.Errorf("drift after the batch: %d %s", st, raw)
	}
}

// TestStateDivergenceDrifts: a level-2 node whose heartbeats keep
// reporting another policy ruleset than the one it was sent turns
// drifted once that has lasted longer than the bound, and is scheduled
// again when it reports the ruleset it was sent.
func TestStateDivergenceDrifts(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 1)
	n := f.e.RegisterNode(t, f.enr.Token.Token, "l2", 2)
	var desired string
	if err := f.e.Server.DB.QueryRow(`SELECT fingerprint FROM policy_node_state WHERE node_id = $1`, n.ID).Scan(&desired); err != nil {
		t.Fatalf("the node was never told a ruleset: %v", err)
	}
	caps := nodeproto.Capabilities{BuiltinActions: []nodeproto.BuiltinAction{{Name: "gather_info"}}}
	if resp, raw := f.e.NodeSend(t, n, "PUT", "/v1/nodes/"+n.ID+"/capabilities", caps, nil); resp.StatusCode/100 != 2 {
		t.Fatalf("capabilities: %d %s", resp.StatusCode, raw)
	}
	beat := func(fingerprint string) {
		t.Helper()
		hb := nodeproto.Heartbeat{NodeID: n.ID, Status: "healthy", Policy: &nodeproto.PolicyInfo{Fingerprint: fingerprint,
			Backend: "nftables"}}
		if fingerprint != desired {
			hb.Policy.Error = "ruleset refused: table busy"
		}
		if resp, raw := f.e.NodeSend(t, n, "POST", "/v1/nodes/"+n.ID+"/heartbeat", hb, nil); resp.StatusCode/100 != 2 {
			t.Fatalf("heartbeat: %d %s", resp.StatusCode, raw)
		}
	}
	skipped := func() string {
		t.Helper()
		var pre apiv1.DispatchPreview
		if st, raw := f.e.Do(t, "POST", f.path(":preview"), apiv1.DispatchExecutionRequest{Action: "gather_info", NodeID: n.ID}, &pre); st != 200 {
			t.Fatalf("preview: %d %s", st, raw)
		}
		if len(pre.Skipped) == 1 && pre.Skipped[0].Reason == "drifted" {
			return pre.Skipped[0].Detail
		}
		return ""
	}
	beat(desired)
	if d := skipped(); d != "" {
		t.Fatalf("in sync, yet drifted: %s", d)
	}
	beat("stale-fingerprint")
	if d := skipped(); d != "" {
		t.Fatalf("drifted before the bound passed: %s", d)
	}
	// The ruleset was sent ten minutes ago (the bound is five).
	if _, err := f.e.Server.DB.Exec(`UPDATE policy_node_state SET fingerprint_at = fingerprint_at - 600000000 WHERE node_id = $1`, n.ID); err != nil {
		t.Fatal(err)
	}
	if d := skipped(); !strings.Contains(d, "another policy ruleset") || !strings.Contains(d, "table busy") {
		t.Fatalf("diverged past the bound, skip detail %q", d)
	}
	var rows apiv1.List[apiv1.CapabilityRow]
	if st, raw := f.e.Do(t, "GET", "/v1/projects/"+f.enr.Project.ID+"/capabilities?status=drift", nil, &rows); st != 200 ||
		len(rows.Items) != 1 || rows.Items[0].NodeID != n.ID {
		t.Errorf("capabilities: %d %s", st, raw)
	}
	beat(desired)
	if d := skipped(); d != "" {
		t.Errorf("back in sync, still drifted: %s", d)
	}
}

// TestHooksPaged: /v1/hooks pages through every declared hook once, in
// node and name order, with a cursor bound to the listing.
func TestHooksPaged(t *testing.T) {
	f := newFleet(t, apptest.SQLite, 3)
	want := map[string]bool{}
	for i, n := range f.nodes {
		caps := nodeproto.Capabilities{BuiltinActions: []nodeproto.BuiltinAction{{Name: "gather_info"}}}
		for j := range i + 1 {
			name := fmt.Sprintf("hook-%d", 3-j)
			caps.Hooks = append(caps.Hooks, nodeproto.Hook{Name: name, Checksum: strings.Repeat("ab", 32)})
			want[n.ID+"/"+name] = true
		}
		if i == 0 { // a PlexdHook resource the node discovered (the contract's plexd_hooks)
			caps.PlexdHooks = json.RawMessage(`[{"name":"hook-0","image_digest":"sha256:` + strings.Repeat("e3", 32) + `"}]`)
			want[n.ID+"/hook-0"] = true
		}
		if resp, raw := f.e.NodeSend(t, n, "PUT", "/v1/nodes/"+n.ID+"/capabilities", caps, nil); resp.StatusCode/100 != 2 {
			t.Fatalf("capabilities: %d %s", resp.StatusCode, raw)
		}
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		var l apiv1.List[apiv1.DiscoveredHook]
		q := "/v1/hooks?limit=2&project_id=" + f.enr.Project.ID
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		if st, raw := f.e.Do(t, "GET", q, nil, &l); st != 200 || len(l.Items) > 2 {
			t.Fatalf("page %d: %d %s", page, st, raw)
		}
		for _, h := range l.Items {
			got = append(got, h.NodeID+"/"+h.Name)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if page > 5 {
			t.Fatal("the listing does not end")
		}
	}
	if len(got) != len(want) || !slices.IsSorted(got) {
		t.Fatalf("paged hooks %v, want the %d of %v once each, in order", got, len(want), want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected %s", g)
		}
	}
	if st, raw := f.e.Do(t, "GET", "/v1/hooks?project_id=not-a-uuid", nil, nil); st != 400 || code(raw) != "invalid_project_id" {
		t.Errorf("bad filter: %d %s", st, raw)
	}
	if st, raw := f.e.Do(t, "GET", "/v1/hooks?limit=2&project_id="+f.enr.Project.ID+"&cursor=garbage", nil, nil); st != 400 ||
		code(raw) != "invalid_cursor" {
		t.Errorf("bad cursor: %d %s", st, raw)
	}
}
