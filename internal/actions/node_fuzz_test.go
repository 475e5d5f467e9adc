package actions

import (
	"strings"
	"testing"
	"time"
)

// validStatus is a status a node may move its target to.
func validStatus(s string) bool {
	return s == StatusAck || s == StatusStarted || terminal(s)
}

// FuzzNodeBodies: the bodies nodes send about executions (level-1 ack and
// result, the contract's callback) are untrusted; each decodes into a
// forward status with bounded texts, or a problem, never a panic.
func FuzzNodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"execution_id":"e","status":"accepted"}`, `{"status":"rejected","reason":"max_concurrent_reached"}`,
		`{"status":"rejected","reason":"duplicate_execution_id"}`,
		`{"execution_id":"e","status":"success","exit_code":0,"stdout":"ok","duration":"1.5s"}`,
		`{"status":"error","error":"boom","duration":"-1s"}`, `{"status":"started"}`,
		`{"status":"succeeded","exit_code":2,"output":{"inline":"aGVsbG8="}}`, `{"status":"pending"}`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if r, ignore, err := parseAck(raw); err == nil && !ignore {
			if r.status != StatusAck && r.status != StatusFailed || len(r.detail) > 2048 {
				t.Fatalf("ack → %q %q", r.status, r.detail)
			}
		}
		if r, err := parseResult(raw); err == nil {
			if !terminal(r.status) || r.exitCode == nil || len(r.detail) > 2048 ||
				r.durationMS != nil && *r.durationMS < 0 {
				t.Fatalf("result → %+v", r)
			}
			if out := capOutput(r.stdout); len(out) > maxStoredOutput || len(r.stdout) > maxStoredOutput && !strings.HasSuffix(out, truncatedMark) {
				t.Fatalf("stored output of %d bytes", len(out))
			}
		}
		if req, err := parseCallback(raw); err == nil {
			if !validStatus(req.Status) || req.Output != nil && len(req.Output.Inline) > 16<<10 {
				t.Fatalf("callback → %+v", req)
			}
		}
	})
}

// FuzzViolationBatch: a node's integrity-violation batch is accepted whole
// with 1–128 well-formed rows of a known kind, or refused, never a panic.
func FuzzViolationBatch(f *testing.F) {
	for _, s := range []string{
		`{"violations":[{"kind":"hook_checksum","detected_by":"pre_dispatch","artifact_id":"backup","observed_checksum":"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo="}]}`,
		`{"violations":[{"kind":"ssh_host_key","detected_by":"inotify","artifact_id":"k","observed_fingerprint":"SHA256:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo"}]}`,
		`{"violations":[]}`, `{"violations":null}`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		rows, err := decodeViolations(raw, now)
		if err != nil {
			return
		}
		if len(rows) == 0 || len(rows) > maxViolationsPerBatch {
			t.Fatalf("%d rows accepted", len(rows))
		}
		for _, r := range rows {
			if r.kind != kindBinary && r.kind != kindHook && r.kind != kindHostKey || r.artifact == "" ||
				len(r.artifact) > maxArtifactID || r.actual == "" || !r.at.Equal(now) {
				t.Fatalf("accepted %+v", r)
			}
			if r.kind != kindHostKey && (len(r.actual) != 64 || r.expected != "" && len(r.expected) != 64) {
				t.Fatalf("checksums not hex SHA-256: %+v", r)
			}
		}
	})
}
