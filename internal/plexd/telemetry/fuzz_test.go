package telemetry

import (
	"encoding/json"
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
			(e.Result != "success" && e.Result != "failure" && e.Result != "unknown") || len(e.Raw) > MaxMessageBytes ||
			!json.Valid(e.Subject) || !json.Valid(e.Object) || e.Timestamp.IsZero() {
			t.Fatalf("record %+v", e)
		}
		raw, err := json.Marshal(e)
		if err != nil || !utf8.Valid(raw) {
			t.Fatalf("marshal: %v", err)
		}
	})
}
