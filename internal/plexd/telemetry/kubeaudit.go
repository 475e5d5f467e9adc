package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// SourceKubeAudit is the source of Kubernetes API-server audit records
// (§12.7 `k8s-audit`).
const SourceKubeAudit = "k8s-audit"

// kubeStage is the one audit stage sent: the response is complete and
// its status known.
const kubeStage = "ResponseComplete"

// Bounds of a Kubernetes record's subject.
const (
	maxKubeGroups     = 32
	maxKubeGroupBytes = 4 << 10
)

// KubeAuditLogOptions configures the Kubernetes audit source.
type KubeAuditLogOptions struct {
	// Path is the API server's audit log (its --audit-log-path). Required.
	Path string
	// Hostname is every record's hostname.
	Hostname string
	// PositionPath keeps the file and offset read so far, so a restart
	// resumes there ("" keeps none: a start reads from the end).
	PositionPath string
	// Poll is how often the file is read (1 s when 0).
	Poll   time.Duration
	Clock  clock.Clock
	Logger *slog.Logger
}

// KubeAuditLog tails a Kubernetes API server's audit log (JSON lines of
// audit.k8s.io/v1 Event objects, the log backend's format), following
// rotation, and sends each ResponseComplete event as a §12.7 AuditEntry.
// The file may appear after plexd starts (the API server starting later):
// it is read from its start then.
type KubeAuditLog struct {
	opts      KubeAuditLogOptions
	clk       clock.Clock
	malformed atomic.Int64
}

// NewKubeAuditLog builds the Kubernetes audit source.
func NewKubeAuditLog(opts KubeAuditLogOptions) *KubeAuditLog {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &KubeAuditLog{opts: opts, clk: clock.OrReal(opts.Clock)}
}

// Malformed counts the lines skipped since start: not an audit event, an
// event missing what a record needs, or longer than MaxLineBytes.
func (k *KubeAuditLog) Malformed() int64 { return k.malformed.Load() }

// Run implements AuditSource. It returns when ctx ends; a path that is
// not (yet) there is waited for.
func (k *KubeAuditLog) Run(ctx context.Context, emit func(AuditEntry)) error {
	if k.opts.Path == "" {
		return errors.New("telemetry: KubeAuditLogOptions.Path is required")
	}
	t := &fileTail{path: k.opts.Path, positionPath: k.opts.PositionPath, poll: k.opts.Poll, waitForFile: true,
		what: "the Kubernetes audit log", clk: k.clk, log: k.opts.Logger,
		line: func(line []byte) {
			e, ok, err := ParseKubeAuditLine(line, k.opts.Hostname)
			switch {
			case err != nil:
				if k.malformed.Add(1) == 1 { // the first is told; Malformed counts them all
					k.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "skipping malformed Kubernetes audit lines",
						slog.String(logkey.Path, k.opts.Path), slog.String(logkey.Error, err.Error()))
				}
			case ok:
				emit(e)
			}
		},
		long: func(n int) { k.malformed.Add(int64(n)) }}
	return t.run(ctx)
}

// kubeEvent is the part of an audit.k8s.io/v1 Event a record needs.
type kubeEvent struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

// kubeSubject is a Kubernetes record's subject (§12.7).
type kubeSubject struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// ParseKubeAuditLine turns one line of a Kubernetes audit log into a
// §12.7 AuditEntry: source k8s-audit, event_type the stage, subject
// {username, groups}, object "namespace/resource/name" (a subresource
// appended, "/subresource"; the request URI for a non-resource request),
// action the verb, result success for a response code below 400 and
// failure otherwise, the time the stageTimestamp, raw the line. Events
// of other stages answer ok false without an error; a line that is not
// a complete audit event answers an error.
func ParseKubeAuditLine(line []byte, hostname string) (AuditEntry, bool, error) {
	var ev kubeEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return AuditEntry{}, false, errors.New("not a JSON audit event")
	}
	ev.Verb = clip(strings.TrimSpace(ev.Verb), MaxFieldBytes)
	switch {
	case ev.Kind != "Event" || !strings.HasPrefix(ev.APIVersion, "audit.k8s.io/"):
		return AuditEntry{}, false, errors.New("not an audit.k8s.io Event")
	case ev.Stage == "":
		return AuditEntry{}, false, errors.New("an event without a stage")
	case ev.Stage != kubeStage:
		return AuditEntry{}, false, nil
	case strings.TrimSpace(ev.Verb) == "":
		return AuditEntry{}, false, errors.New("an event without a verb")
	case ev.StageTimestamp.IsZero() || ev.StageTimestamp.Year() < 1970 || ev.StageTimestamp.Year() >= 2200:
		return AuditEntry{}, false, errors.New("an event without a valid stageTimestamp")
	case ev.ResponseStatus == nil || ev.ResponseStatus.Code < 100 || ev.ResponseStatus.Code > 999:
		return AuditEntry{}, false, errors.New("a completed event without a response code")
	}
	result := "success"
	if ev.ResponseStatus.Code >= 400 {
		result = "failure"
	}
	subject := kubeSubject{Username: clip(ev.User.Username, MaxFieldBytes), Groups: []string{}}
	size := 0
	for _, g := range ev.User.Groups {
		g = clip(g, MaxFieldBytes)
		if len(subject.Groups) == maxKubeGroups || size+len(g) > maxKubeGroupBytes {
			break
		}
		subject.Groups = append(subject.Groups, g)
		size += len(g)
	}
	subj, _ := json.Marshal(subject)
	object := clip(ev.RequestURI, MaxFieldBytes)
	if r := ev.ObjectRef; r != nil && r.Resource != "" {
		object = clip(r.Namespace, MaxFieldBytes) + "/" + clip(r.Resource, MaxFieldBytes) + "/" + clip(r.Name, MaxFieldBytes)
		if r.Subresource != "" {
			object += "/" + clip(r.Subresource, MaxFieldBytes)
		}
	}
	obj, _ := json.Marshal(object)
	return AuditEntry{
		Timestamp: ev.StageTimestamp.UTC(), Source: SourceKubeAudit, EventType: kubeStage, Subject: subj, Object: obj,
		Action: ev.Verb, Result: result, Hostname: clip(hostname, MaxFieldBytes),
		Raw: clipRaw(string(line)),
	}, true, nil
}
