package access

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// FuzzActivityBody runs the node callback's body path without a database:
// decodeActivity (at most maxActivityBody bytes), then describe for the
// audit entry.
// Nothing may panic; an accepted body is described as the kind of its one
// member with the action its phase implies, and the re-encoded body the
// handler stores encodes and describes the same.
func FuzzActivityBody(f *testing.F) {
	for _, s := range []string{
		`{"ssh":{"command":"journalctl -u plexd","exit_code":0,"started_at":"2026-03-01T12:00:00Z"}}`,
		`{"ssh":{"phase":"session_started"}}`,
		`{"ssh":{"phase":"session_ended","terminated_by":"operator_revoke"}}`,
		`{"k8s":{"verb":"get","resource_kind":"pods","namespace":"default","name":"web-0","status_code":200}}`,
		`{"tcp":{"phase":"session_ended","bytes_in":1,"bytes_out":2,"terminated_by":"idle_timeout"}} trailing`,
		`{"tcp":{"phase":"session_started"},"k8s":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > maxActivityBody {
			return
		}
		a, err := decodeActivity(raw)
		if err != nil {
			return
		}
		kind, action, reason := describe(a)
		checkDescribed(t, a, kind, action, reason)
		stored, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("the handler would store an empty body for %q: %v", raw, err)
		}
		var back nodeproto.SessionActivity
		if err := json.Unmarshal(stored, &back); err != nil || back.Validate() != nil {
			t.Fatalf("stored body %s does not decode and validate: %v", stored, err)
		}
		if k, ac, r := describe(back); k != kind || ac != action || r != reason {
			t.Fatalf("stored body %s describes as %s %s %q, the request as %s %s %q", stored, k, ac, r, kind, action, reason)
		}
	})
}

func checkDescribed(t *testing.T, a nodeproto.SessionActivity, kind, action, reason string) {
	t.Helper()
	var want, phase string
	switch {
	case a.SSH != nil:
		want, phase = nodeproto.SessionSSH, a.SSH.Phase
		if phase == "" && (action != "session.command" || !strings.HasPrefix(reason, "command="+strconv.Quote(a.SSH.Command))) {
			t.Fatalf("ssh command %q described as %s %q", a.SSH.Command, action, reason)
		}
	case a.K8s != nil:
		want = nodeproto.SessionK8s
		if action != "session.k8s_call" || !strings.HasPrefix(reason, "verb="+strconv.Quote(a.K8s.Verb)+" ") {
			t.Fatalf("k8s call described as %s %q", action, reason)
		}
	default:
		want, phase = nodeproto.SessionTCP, a.TCP.Phase
	}
	if kind != want {
		t.Fatalf("an activity of %s described as kind %q", want, kind)
	}
	if phase == nodeproto.PhaseStarted && action != "session.connect" || phase == nodeproto.PhaseEnded && action != "session.disconnect" {
		t.Fatalf("phase %s described as %s", phase, action)
	}
}
