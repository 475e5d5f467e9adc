package telemetry

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseJournal: any journalctl line either is refused or yields an
// entry the control plane accepts (bounded, valid UTF-8, a known
// severity, a non-empty message, an allowed unit).
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1764990000123456","PRIORITY":"3","_SYSTEMD_UNIT":"sshd.service","_HOSTNAME":"web-1","MESSAGE":"x"}`))
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"1","UNIT":"sshd.service","MESSAGE":[104,255,0]}`))
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"99999999999999999999","_SYSTEMD_UNIT":"sshd.service","MESSAGE":["a","b"],"PRIORITY":"9"}`))
	f.Add([]byte(`[]`))
	allow := unitSet([]string{"sshd"})
	f.Fuzz(func(t *testing.T, line []byte) {
		e, cursor, ok := ParseJournal(line, allow, "h")
		if cursor != "" && !validCursor(cursor) {
			t.Fatalf("cursor %q", cursor)
		}
		if !ok {
			return
		}
		if e.Unit != "sshd.service" || strings.TrimSpace(e.Message) == "" || len(e.Message) > MaxMessageBytes ||
			!utf8.ValidString(e.Message) || !utf8.ValidString(e.Hostname) || len(e.Hostname) > MaxFieldBytes ||
			e.Timestamp.IsZero() || e.Source != "journald" || !slices.Contains(severities[:], e.Severity) {
			t.Fatalf("entry %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseAuditLine: any audit.log line either is refused or yields a
// record the control plane accepts (source, action and result set,
// bounded, valid JSON subject and object).
func FuzzParseAuditLine(f *testing.F) {
	f.Add(auditSyscall)
	f.Add(auditLogin)
	f.Add(auditPath)
	f.Add(`type=X msg=audit(1.999999:1): msg='a="b c' d='`)
	f.Add("type=Y msg=audit(12.3:4): key=\"\xff\" res=failed")
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := ParseAuditLine(line, "h")
		if !ok {
			return
		}
		if e.Source != "auditd" || e.Action == "" || len(e.Action) > MaxFieldBytes || e.EventType == "" ||
			(e.Result != "success" && e.Result != "failure") || len(e.Raw) > MaxMessageBytes ||
			!json.Valid(e.Subject) || !json.Valid(e.Object) || e.Timestamp.IsZero() {
			t.Fatalf("record %+v", e)
		}
		raw, err := json.Marshal(e)
		if err != nil || !utf8.Valid(raw) || len(raw) > 64<<10 {
			t.Fatalf("marshal: %d bytes, %v", len(raw), err)
		}
	})
}

// FuzzParseKubeAuditLine: any Kubernetes audit log line is refused (an
// error: malformed; none: another stage) or yields a record the control
// plane accepts: source k8s-audit, a verb, success or failure, a time it
// stores, bounded valid UTF-8 fields, a {username, groups} subject and a
// string object, at most 64 KiB as JSON.
func FuzzParseKubeAuditLine(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "kube-audit.log"))
	if err != nil {
		f.Fatal(err)
	}
	for l := range bytes.SplitSeq(raw, []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"\u0000","stageTimestamp":"9999-12-31T23:59:59Z","responseStatus":{"code":999},"user":{"username":"\ud800","groups":null},"objectRef":{"resource":"<>&"}}`))
	f.Add([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":" ","stageTimestamp":"1970-01-01T00:00:00Z","responseStatus":{"code":100}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok, err := ParseKubeAuditLine(line, "h")
		if !ok {
			if e.Source != "" {
				t.Fatalf("refused with a record %+v", e)
			}
			return
		}
		if err != nil {
			t.Fatalf("ok with an error %v", err)
		}
		var subj struct {
			Username *string  `json:"username"`
			Groups   []string `json:"groups"`
		}
		var obj string
		if e.Source != "k8s-audit" || strings.TrimSpace(e.Action) == "" || len(e.Action) > MaxFieldBytes ||
			!utf8.ValidString(e.Action) || (e.Result != "success" && e.Result != "failure") || len(e.Raw) > MaxMessageBytes ||
			!utf8.ValidString(e.Raw) || e.Timestamp.Year() < 1970 || e.Timestamp.Year() >= 2200 ||
			json.Unmarshal(e.Subject, &subj) != nil || subj.Username == nil || subj.Groups == nil ||
			len(subj.Groups) > maxKubeGroups || json.Unmarshal(e.Object, &obj) != nil {
			t.Fatalf("record %+v subject %s object %s", e, e.Subject, e.Object)
		}
		raw, err := json.Marshal(e)
		if err != nil || !utf8.Valid(raw) || len(raw) > 64<<10 {
			t.Fatalf("marshal: %d bytes, %v", len(raw), err)
		}
	})
}
