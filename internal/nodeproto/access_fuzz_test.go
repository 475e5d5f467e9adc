package nodeproto

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// setupNow is the fixed clock the session_setup fuzz validates against.
var setupNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// FuzzSessionSetup decodes arbitrary session_setup payloads. Validate must
// not panic; what it accepts keeps its bounds (one target member, of the
// kind; an ssh key; commands, groups and lifetime bounded) and survives a
// re-encoding unchanged and still valid.
func FuzzSessionSetup(f *testing.F) {
	id := "0190b6f2-0000-7000-8000-000000000001"
	f.Add([]byte(`{"session_id":"` + id + `","jti":"` + id + `","kind":"ssh","target":{"ssh":{"user":"root",
		"allowed_commands":["uptime","journalctl -u plexd"]}},"expires_at":"2026-03-01T12:10:00Z","idle_timeout_seconds":300,
		"callback_url":"https://cp.example/v1/nodes/n1/sessions/` + id + `","authorized_key":"ssh-ed25519 AAAA op","source":"100.64.0.1"}`))
	f.Add([]byte(`{"session_id":"s1","jti":"s1","kind":"k8s","target":{"k8s":{"user":"alice@example.com",
		"impersonate_groups":["ops"]}},"expires_at":"2026-03-01T12:29:59.999999999+00:00"}`))
	f.Add([]byte(`{"session_id":"s1","jti":"s1","kind":"tcp","target":{"tcp":{"host":"db.internal","port":5432}},
		"expires_at":"2026-03-01T12:00:01Z"}`))
	f.Add([]byte(`{"session_id":"s1","jti":"s1","kind":"tcp","target":{"tcp":{"host":"h","port":1},"ssh":{"user":"x"}},
		"expires_at":"2026-03-01T12:05:00Z"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var s SessionSetup
		if json.Unmarshal(doc, &s) != nil || s.Validate(setupNow) != nil {
			return
		}
		checkSetupBounds(t, &s)
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("a valid session_setup does not encode: %v", err)
		}
		var back SessionSetup
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if err := back.Validate(setupNow); err != nil {
			t.Fatalf("re-decoded %s is invalid: %v", out, err)
		}
		if again, _ := json.Marshal(back); !bytes.Equal(again, out) {
			t.Fatalf("round trip changed the payload:\n%s\n%s", out, again)
		}
	})
}

func checkSetupBounds(t *testing.T, s *SessionSetup) {
	t.Helper()
	if members(s.Target.SSH != nil, s.Target.K8s != nil, s.Target.TCP != nil) != 1 {
		t.Fatalf("accepted a target with other than one member: %+v", s.Target)
	}
	switch {
	case s.ExpiresAt.Compare(setupNow) <= 0 || s.ExpiresAt.After(setupNow.Add(MaxSessionLifetime)):
		t.Fatalf("accepted expires_at %s at %s", s.ExpiresAt, setupNow)
	case len(s.JTI) == 0 || len(s.JTI) > 128 || !ValidID(s.SessionID) || s.IdleTimeoutSeconds < 0:
		t.Fatalf("accepted ids or idle timeout: %q %q %d", s.SessionID, s.JTI, s.IdleTimeoutSeconds)
	case len(s.AuthorizedKey) > 8<<10:
		t.Fatalf("accepted an authorized_key of %d bytes", len(s.AuthorizedKey))
	}
	switch s.Kind {
	case SessionSSH:
		if s.Target.SSH == nil || s.AuthorizedKey == "" || len(s.Target.SSH.AllowedCommands) > 64 {
			t.Fatalf("accepted ssh setup %+v", s)
		}
		for _, c := range s.Target.SSH.AllowedCommands {
			if c == "" || len(c) > MaxActivityCommand {
				t.Fatalf("accepted an allowed command of %d bytes", len(c))
			}
		}
	case SessionK8s:
		if s.Target.K8s == nil || len(s.Target.K8s.ImpersonateGroups) > 32 {
			t.Fatalf("accepted k8s setup %+v", s.Target.K8s)
		}
	case SessionTCP:
		if s.Target.TCP == nil || s.Target.TCP.Port < 1 || s.Target.TCP.Port > 65535 || s.Target.TCP.Host == "" {
			t.Fatalf("accepted tcp setup %+v", s.Target.TCP)
		}
	default:
		t.Fatalf("accepted kind %q", s.Kind)
	}
	if u := s.Target.User(); s.Kind != SessionTCP && (u == "" || len(u) > 64) {
		t.Fatalf("accepted user %q", u)
	}
}

// FuzzSessionActivity decodes arbitrary activity callbacks. Validate must
// not panic; what it accepts has exactly one member within its bounds and
// survives a re-encoding (the control plane stores the re-encoded form)
// unchanged and still valid.
func FuzzSessionActivity(f *testing.F) {
	for _, s := range []string{
		`{"ssh":{"command":"journalctl -u plexd","exit_code":0,"started_at":"2026-03-01T12:00:00Z","completed_at":"2026-03-01T12:00:01Z"}}`,
		`{"ssh":{"command":"ls","exit_code":null,"completed_at":null}}`,
		`{"ssh":{"phase":"session_ended","terminated_by":"operator_revoke"}}`,
		`{"k8s":{"verb":"get","resource_kind":"pods","namespace":"default","name":"web-0","status_code":200,"duration_ms":12}}`,
		`{"tcp":{"phase":"session_started"}}`,
		`{"tcp":{"phase":"session_ended","bytes_in":10,"bytes_out":20,"terminated_by":"plexd_close"}}`,
		`{"ssh":{"command":"x"},"tcp":{"phase":"session_started"}}`,
		`{"ssh":{"started_at":"0000-01-01T00:00:00+01:00"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var a SessionActivity
		if json.Unmarshal(doc, &a) != nil || a.Validate() != nil {
			return
		}
		checkActivityBounds(t, &a)
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("a valid activity does not encode: %v", err)
		}
		var back SessionActivity
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("re-decoded %s is invalid: %v", out, err)
		}
		if again, _ := json.Marshal(back); !bytes.Equal(again, out) {
			t.Fatalf("round trip changed the activity:\n%s\n%s", out, again)
		}
	})
}

func checkActivityBounds(t *testing.T, a *SessionActivity) {
	t.Helper()
	if members(a.SSH != nil, a.K8s != nil, a.TCP != nil) != 1 {
		t.Fatalf("accepted an activity with other than one member: %+v", a)
	}
	phase := func(p string) bool { return p == PhaseStarted || p == PhaseEnded }
	switch {
	case a.SSH != nil:
		if len(a.SSH.Command) > MaxActivityCommand || (a.SSH.Phase != "" && !phase(a.SSH.Phase)) {
			t.Fatalf("accepted ssh activity: %d-byte command, phase %q", len(a.SSH.Command), a.SSH.Phase)
		}
	case a.K8s != nil:
		if a.K8s.Verb == "" || len(a.K8s.Verb) > 32 || len(a.K8s.ResourceKind) > 253 || len(a.K8s.Namespace) > 253 || len(a.K8s.Name) > 253 {
			t.Fatalf("accepted k8s activity %+v", a.K8s)
		}
	default:
		if !phase(a.TCP.Phase) || a.TCP.BytesIn < 0 || a.TCP.BytesOut < 0 {
			t.Fatalf("accepted tcp activity %+v", a.TCP)
		}
	}
}

func members(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}
