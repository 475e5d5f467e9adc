package telemetry

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
)

// AuditSource streams host audit records until ctx ends, calling emit from
// one goroutine. ErrUnavailable means the host has no such source.
type AuditSource interface {
	Run(ctx context.Context, emit func(AuditEntry)) error
}

// DefaultAuditLog is auditd's log.
const DefaultAuditLog = "/var/log/audit/audit.log"

// AuditLogOptions configures the auditd source.
type AuditLogOptions struct {
	// Path is auditd's log (DefaultAuditLog when "").
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

// AuditLog tails auditd's log: new lines each Poll, following rotation
// (another inode, or a shorter file, is read from its start).
type AuditLog struct {
	opts AuditLogOptions
	clk  clock.Clock
	// last is the event (its "SEC.MS:SERIAL" stamp) of the last record
	// with an outcome, and that outcome: the records of one event that
	// carry none (PATH, CWD, PROCTITLE …) follow its SYSCALL record and
	// take its outcome.
	last struct{ stamp, result string }
}

// NewAuditLog builds the auditd source.
func NewAuditLog(opts AuditLogOptions) *AuditLog {
	if opts.Path == "" {
		opts.Path = DefaultAuditLog
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &AuditLog{opts: opts, clk: clock.OrReal(opts.Clock)}
}

// Run implements AuditSource. A missing log at start is ErrUnavailable.
func (a *AuditLog) Run(ctx context.Context, emit func(AuditEntry)) error {
	t := &fileTail{path: a.opts.Path, positionPath: a.opts.PositionPath, poll: a.opts.Poll, what: "the audit log",
		clk: a.clk, log: a.opts.Logger, line: func(line []byte) {
			if e, ok := a.parse(string(line)); ok {
				emit(e)
			}
		}}
	return t.run(ctx)
}

// parse is ParseAuditLine with the outcome of a record that carries none
// taken from the earlier record of its event.
func (a *AuditLog) parse(line string) (AuditEntry, bool) {
	e, stamp, ok := parseAuditLine(line, a.opts.Hostname)
	if !ok {
		return e, false
	}
	switch {
	case e.Result != "":
		a.last.stamp, a.last.result = stamp, e.Result
	case stamp == a.last.stamp && a.last.result != "":
		e.Result = a.last.result
	default:
		e.Result = impliedAuditResult(e.EventType)
	}
	return e, true
}

// ParseAuditLine turns one auditd log line (`type=T msg=audit(SEC.MS:SERIAL):
// key=value …`) into an AuditEntry: event_type is T, subject {uid, gid,
// pid}, object a JSON string naming what was acted on (key, exe, acct or
// name), action the syscall or the operation (op) or the type, result
// success or failure (§12.7 knows no other): from success= or res=, else
// what the record type implies (impliedAuditResult); raw the line. The
// end-of-event marker EOE carries nothing and is refused. AuditLog
// instead gives a record without an outcome its event's (same serial).
func ParseAuditLine(line, hostname string) (AuditEntry, bool) {
	e, _, ok := parseAuditLine(line, hostname)
	if ok && e.Result == "" {
		e.Result = impliedAuditResult(e.EventType)
	}
	return e, ok
}

// parseAuditLine is ParseAuditLine answering the record's event stamp
// ("SEC.MS:SERIAL") and an empty result when the record carries none.
func parseAuditLine(line, hostname string) (AuditEntry, string, bool) {
	line = strings.TrimRight(line, "\r\n")
	if enriched, _, ok := strings.Cut(line, "\x1d"); ok { // enriched fields follow GS
		line = enriched
	}
	rest, ok := strings.CutPrefix(line, "type=")
	if !ok {
		return AuditEntry{}, "", false
	}
	typ, rest, ok := strings.Cut(rest, " ")
	if !ok || typ == "" || len(typ) > 64 || typ == "EOE" {
		return AuditEntry{}, "", false
	}
	rest, ok = strings.CutPrefix(rest, "msg=audit(")
	if !ok {
		return AuditEntry{}, "", false
	}
	stamp, rest, ok := strings.Cut(rest, "):")
	if !ok {
		return AuditEntry{}, "", false
	}
	ts, ok := auditTime(stamp)
	if !ok {
		return AuditEntry{}, "", false
	}
	kv := auditFields(rest)
	subject := map[string]int64{}
	for _, k := range []string{"uid", "gid", "pid"} {
		if n, err := strconv.ParseInt(kv[k], 10, 64); err == nil {
			subject[k] = n
		}
	}
	subj, _ := json.Marshal(subject)
	obj, _ := json.Marshal(clip(auditObject(kv), MaxFieldBytes))
	action := strings.ToLower(typ)
	switch {
	case kv["syscall"] != "":
		action = "syscall:" + kv["syscall"]
	case kv["op"] != "":
		action = kv["op"]
	}
	result := auditResult(kv)
	if result == "" && (typ == "AVC" || typ == "USER_AVC") {
		switch {
		case strings.Contains(rest, "avc:  denied") || strings.Contains(rest, "avc: denied"):
			result = "failure"
		case strings.Contains(rest, "avc:  granted") || strings.Contains(rest, "avc: granted"):
			result = "success"
		}
	}
	return AuditEntry{
		Timestamp: ts, Source: "auditd", EventType: clip(typ, MaxFieldBytes), Subject: subj, Object: obj,
		Action: clip(action, MaxFieldBytes), Result: result, Hostname: clip(hostname, MaxFieldBytes),
		Raw: clipRaw(line),
	}, stamp, true
}

// impliedAuditResult is the result of a record that carries no outcome
// and whose event's is unknown: anomalies (ANOM_*: a crash, a promiscuous
// interface, a failed login burst) are failures; any other record
// reports something that took place (a configuration change, a loaded
// program, a path an event touched), a success.
func impliedAuditResult(typ string) string {
	if strings.HasPrefix(typ, "ANOM_") {
		return "failure"
	}
	return "success"
}

// auditTime reads "SEC.MS:SERIAL".
func auditTime(stamp string) (time.Time, bool) {
	tpart, _, _ := strings.Cut(stamp, ":")
	secs, frac, _ := strings.Cut(tpart, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s <= 0 || s > 1<<36 {
		return time.Time{}, false
	}
	var ms int64
	if frac != "" {
		if len(frac) > 3 {
			frac = frac[:3]
		}
		for len(frac) < 3 {
			frac += "0"
		}
		if ms, err = strconv.ParseInt(frac, 10, 64); err != nil || ms < 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(s, ms*int64(time.Millisecond)).UTC(), true
}

// auditFields parses key=value pairs (values bare, "double quoted" or
// 'single quoted'); a user message's msg='…' is parsed too, its pairs
// filling keys the outer record lacks.
func auditFields(s string) map[string]string {
	out := map[string]string{}
	var inner string
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		if strings.ContainsAny(key, " '\"") {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				break
			}
			s = s[sp:]
			continue
		}
		s = s[eq+1:]
		var val string
		if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:end+1], s[end+2:]
			}
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				val, s = s, ""
			} else {
				val, s = s[:sp], s[sp:]
			}
		}
		if key == "msg" {
			inner = val
			continue
		}
		if _, dup := out[key]; !dup && len(out) < 128 {
			out[key] = val
		}
	}
	if inner != "" && !strings.HasPrefix(inner, "audit(") {
		for k, v := range auditFields(inner) {
			if _, dup := out[k]; !dup {
				out[k] = v
			}
		}
	}
	return out
}

func auditObject(kv map[string]string) string {
	for _, k := range []string{"key", "exe", "acct", "name", "comm"} {
		if v := kv[k]; v != "" && v != "(null)" && v != "?" {
			return v
		}
	}
	return ""
}

func auditResult(kv map[string]string) string {
	for _, k := range []string{"success", "res", "result"} {
		switch strings.ToLower(kv[k]) {
		case "yes", "success", "1":
			return "success"
		case "no", "failed", "failure", "fail", "0":
			return "failure"
		}
	}
	return ""
}
