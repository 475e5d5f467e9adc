package nodeproto

import (
	"time"
)

// EventSessionSetup is the contract's session_setup event (level 2): a
// mediated-access session the node's access listener will admit.
const EventSessionSetup = "session_setup"

// Session kinds.
const (
	SessionSSH = "ssh"
	SessionK8s = "k8s"
	SessionTCP = "tcp"
)

// DefaultAccessPort is the TCP port of our plexd's access listener on its
// mesh IP (level 2).
const DefaultAccessPort = 7480

// The access listener's HTTP surface (docs/design/0008-access.md): the
// upgrade endpoint of ssh and tcp sessions with its Upgrade token, and the
// prefix under which k8s sessions reach the node's Kubernetes API.
const (
	AccessPath       = "/v1/access"
	AccessUpgrade    = "plexsphere-access/1"
	AccessKubePrefix = "/v1/kube"
)

// MaxSessionLifetime caps a session's expires_at past now, as for
// ssh_session_setup (A1).
const MaxSessionLifetime = 30 * time.Minute

// SessionTarget is the target of a session in the contract's form: an
// object with exactly one member, the variant of the session's kind.
type SessionTarget struct {
	SSH *SSHTarget `json:"ssh,omitempty"`
	K8s *K8sTarget `json:"k8s,omitempty"`
	TCP *TCPTarget `json:"tcp,omitempty"`
}

// SSHTarget is the ssh variant: the login user and, when not empty, the
// only command lines the session may run.
type SSHTarget struct {
	User            string   `json:"user"`
	AllowedCommands []string `json:"allowed_commands,omitempty"`
}

// K8sTarget is the k8s variant: the user (and groups) the node's
// Kubernetes API proxy impersonates.
type K8sTarget struct {
	User              string   `json:"user"`
	ImpersonateGroups []string `json:"impersonate_groups,omitempty"`
}

// TCPTarget is the tcp variant: the one address the node forwards to.
type TCPTarget struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// User is the ssh or k8s user, "" for tcp.
func (t SessionTarget) User() string {
	switch {
	case t.SSH != nil:
		return t.SSH.User
	case t.K8s != nil:
		return t.K8s.User
	}
	return ""
}

// Validate checks that exactly the variant of kind is present and bounded.
func (t SessionTarget) Validate(kind string) error {
	n := 0
	for _, set := range []bool{t.SSH != nil, t.K8s != nil, t.TCP != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return invalid("target", "exactly one of ssh, k8s, tcp")
	}
	switch kind {
	case SessionSSH:
		if t.SSH == nil {
			return invalid("target", "kind ssh needs target.ssh")
		}
		if !validUser(t.SSH.User) {
			return invalid("target.ssh.user", "empty, longer than 64 bytes or not printable")
		}
		if len(t.SSH.AllowedCommands) > 64 {
			return invalid("target.ssh.allowed_commands", "more than 64")
		}
		for _, c := range t.SSH.AllowedCommands {
			if c == "" || len(c) > MaxActivityCommand {
				return invalid("target.ssh.allowed_commands", "an empty command or one longer than 1 KiB")
			}
		}
	case SessionK8s:
		if t.K8s == nil {
			return invalid("target", "kind k8s needs target.k8s")
		}
		if !validUser(t.K8s.User) {
			return invalid("target.k8s.user", "empty, longer than 64 bytes or not printable")
		}
		if len(t.K8s.ImpersonateGroups) > 32 {
			return invalid("target.k8s.impersonate_groups", "more than 32")
		}
		for _, g := range t.K8s.ImpersonateGroups {
			if !validUser(g) {
				return invalid("target.k8s.impersonate_groups", "an empty, long or unprintable group")
			}
		}
	case SessionTCP:
		if t.TCP == nil {
			return invalid("target", "kind tcp needs target.tcp")
		}
		if t.TCP.Host == "" || len(t.TCP.Host) > 253 || !ValidPort(t.TCP.Port) {
			return invalid("target.tcp", "tcp needs a host (≤ 253 bytes) and a port 1–65535")
		}
	default:
		return invalid("kind", "not ssh, k8s or tcp")
	}
	return nil
}

// validUser is a non-empty printable ASCII name of at most 64 bytes.
func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// SessionSetup is the session_setup payload: the contract's members plus
// our additive authorized_key (the operator's SSH public key, ssh only),
// source (the only mesh IP that may connect: the session gateway's) and
// access_port (where the gateway will connect).
type SessionSetup struct {
	SessionID          string        `json:"session_id"`
	JTI                string        `json:"jti"`
	Kind               string        `json:"kind"`
	Target             SessionTarget `json:"target"`
	ExpiresAt          time.Time     `json:"expires_at"`
	IdleTimeoutSeconds int           `json:"idle_timeout_seconds"`
	CallbackURL        string        `json:"callback_url"`
	AuthorizedKey      string        `json:"authorized_key,omitempty"`
	Source             string        `json:"source,omitempty"`
}

// Validate checks the session at now.
func (s *SessionSetup) Validate(now time.Time) error {
	switch {
	case !ValidID(s.SessionID):
		return invalid("session_id", "not an ID")
	case s.JTI == "" || len(s.JTI) > 128:
		return invalid("jti", "empty or longer than 128 bytes")
	case !ValidWireTime(s.ExpiresAt) || !s.ExpiresAt.After(now):
		return invalid("expires_at", "not a future UTC Time")
	case s.ExpiresAt.After(now.Add(MaxSessionLifetime)):
		return invalid("expires_at", "more than 30 minutes ahead")
	case s.IdleTimeoutSeconds < 0:
		return invalid("idle_timeout_seconds", "negative")
	case len(s.AuthorizedKey) > 8<<10:
		return invalid("authorized_key", "longer than 8 KiB")
	case s.Kind == SessionSSH && s.AuthorizedKey == "":
		return invalid("authorized_key", "required for ssh sessions")
	}
	return s.Target.Validate(s.Kind)
}

// SessionActivity is the body of POST /v1/nodes/{id}/sessions/{session_id}:
// exactly one of its members (api.md §3.9).
type SessionActivity struct {
	SSH *SSHActivity `json:"ssh,omitempty"`
	K8s *K8sActivity `json:"k8s,omitempty"`
	TCP *TCPActivity `json:"tcp,omitempty"`
}

// Session phases (tcp, and additive for ssh and k8s connections).
const (
	PhaseStarted = "session_started"
	PhaseEnded   = "session_ended"
)

// Terminations of a session.
const (
	TerminatedTTL    = "ttl_expired"
	TerminatedIdle   = "idle_timeout"
	TerminatedPlexd  = "plexd_close"
	TerminatedRevoke = "operator_revoke"
	TerminatedClient = "client_close" // ours: the operator's side closed
)

// SSHActivity is one ssh command (or, with Phase, the connection's start or
// end: our addition).
type SSHActivity struct {
	Command      string     `json:"command,omitempty"`
	ExitCode     *int       `json:"exit_code,omitempty"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	Phase        string     `json:"phase,omitempty"`
	TerminatedBy string     `json:"terminated_by,omitempty"`
}

// K8sActivity is one Kubernetes API call.
type K8sActivity struct {
	Verb         string `json:"verb"`
	ResourceKind string `json:"resource_kind,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
	Name         string `json:"name,omitempty"`
	StatusCode   int    `json:"status_code,omitempty"`
	DurationMS   int64  `json:"duration_ms,omitempty"`
}

// TCPActivity is a tcp session's start or end.
type TCPActivity struct {
	Phase        string `json:"phase"`
	BytesIn      int64  `json:"bytes_in,omitempty"`
	BytesOut     int64  `json:"bytes_out,omitempty"`
	TerminatedBy string `json:"terminated_by,omitempty"`
}

// MaxActivityCommand bounds SSHActivity.Command.
const MaxActivityCommand = 1 << 10

// terminations are the values of terminated_by.
var terminations = map[string]bool{"": true, TerminatedTTL: true, TerminatedIdle: true, TerminatedPlexd: true,
	TerminatedRevoke: true, TerminatedClient: true}

// Validate checks that exactly one member is set and bounded: an ssh
// report is a command or a phase, terminated_by one of its values, a k8s
// report a verb with an HTTP status and a duration that make sense.
func (a *SessionActivity) Validate() error {
	n := 0
	if a.SSH != nil {
		n++
		switch {
		case len(a.SSH.Command) > MaxActivityCommand:
			return invalid("ssh.command", "longer than 1 KiB")
		case a.SSH.Phase != "" && a.SSH.Phase != PhaseStarted && a.SSH.Phase != PhaseEnded:
			return invalid("ssh.phase", "not session_started or session_ended")
		case a.SSH.Phase == "" && a.SSH.Command == "":
			return invalid("ssh", "neither a command nor a phase")
		case !terminations[a.SSH.TerminatedBy]:
			return invalid("ssh.terminated_by", "not a termination")
		}
	}
	if a.K8s != nil {
		n++
		if a.K8s.Verb == "" || len(a.K8s.Verb) > 32 || len(a.K8s.ResourceKind) > 253 || len(a.K8s.Namespace) > 253 || len(a.K8s.Name) > 253 {
			return invalid("k8s", "verb missing, or a member too long")
		}
		if a.K8s.StatusCode < 0 || a.K8s.StatusCode > 999 || a.K8s.DurationMS < 0 {
			return invalid("k8s", "status_code outside 0–999 or a negative duration_ms")
		}
	}
	if a.TCP != nil {
		n++
		if a.TCP.Phase != PhaseStarted && a.TCP.Phase != PhaseEnded {
			return invalid("tcp.phase", "not session_started or session_ended")
		}
		if a.TCP.BytesIn < 0 || a.TCP.BytesOut < 0 {
			return invalid("tcp", "negative byte count")
		}
		if !terminations[a.TCP.TerminatedBy] {
			return invalid("tcp.terminated_by", "not a termination")
		}
	}
	if n != 1 {
		return invalid("body", "exactly one of ssh, k8s, tcp")
	}
	return nil
}

// Recording upload (ours): plexd streams an ssh session's asciicast v2
// recording to POST /v1/nodes/{id}/sessions/{session_id}/recording in
// chunks; the header carries the byte offset of the chunk, and the last
// chunk (possibly empty) carries HeaderRecordingFinal: 1.
const (
	HeaderRecordingOffset = "X-Plexsphere-Recording-Offset"
	HeaderRecordingFinal  = "X-Plexsphere-Recording-Final"
	// MaxRecordingChunk bounds one upload body.
	MaxRecordingChunk = 256 << 10
)
