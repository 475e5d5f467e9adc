package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
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
}

// auditPosition is where the tail is: the file's inode and the offset of
// the first byte not yet read.
type auditPosition struct {
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

// maxAuditRead bounds one poll's read.
const maxAuditRead = 4 << 20

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
	st, err := os.Stat(a.opts.Path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, a.opts.Path, err)
	}
	pos, ok := a.loadPosition()
	if !ok || pos.Inode != inodeOf(st) {
		pos = auditPosition{Inode: inodeOf(st), Offset: st.Size()} // from now on
	}
	for {
		next, err := a.poll(pos, emit)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			a.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "reading the audit log failed", slog.String(logkey.Path, a.opts.Path), slog.String(logkey.Error, err.Error()))
		}
		if next != pos {
			pos = next
			a.savePosition(ctx, pos)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.clk.After(a.opts.Poll):
		}
	}
}

// poll reads the complete lines after pos and answers the new position.
func (a *AuditLog) poll(pos auditPosition, emit func(AuditEntry)) (auditPosition, error) {
	f, err := os.Open(a.opts.Path)
	if err != nil {
		return pos, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return pos, err
	}
	if ino := inodeOf(st); ino != pos.Inode || st.Size() < pos.Offset {
		pos = auditPosition{Inode: ino} // rotated or truncated: from its start
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return pos, err
	}
	n, err := readLines(io.LimitReader(f, maxAuditRead), MaxLineBytes, func(line []byte) {
		if e, ok := ParseAuditLine(string(line), a.opts.Hostname); ok {
			emit(e)
		}
	})
	pos.Offset += n
	return pos, err
}

func (a *AuditLog) loadPosition() (auditPosition, bool) {
	if a.opts.PositionPath == "" {
		return auditPosition{}, false
	}
	raw, err := os.ReadFile(a.opts.PositionPath)
	var p auditPosition
	if err != nil || len(raw) > 1024 || json.Unmarshal(raw, &p) != nil || p.Offset < 0 {
		return auditPosition{}, false
	}
	return p, true
}

func (a *AuditLog) savePosition(ctx context.Context, p auditPosition) {
	if a.opts.PositionPath == "" {
		return
	}
	raw, _ := json.Marshal(p)
	if err := writeState(a.opts.PositionPath, raw); err != nil {
		a.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "saving the audit log position failed", slog.String(logkey.Error, err.Error()))
	}
}

func inodeOf(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}

// ParseAuditLine turns one auditd log line (`type=T msg=audit(SEC.MS:SERIAL):
// key=value …`) into an AuditEntry: event_type is T, subject {uid, gid,
// pid}, object a JSON string naming what was acted on (key, exe, acct or
// name), action the syscall or the operation (op) or the type, result
// success or failure (from success= or res=; "unknown" for records that
// carry neither, such as PATH or EXECVE), raw the line.
func ParseAuditLine(line, hostname string) (AuditEntry, bool) {
	line = strings.TrimRight(line, "\r\n")
	if enriched, _, ok := strings.Cut(line, "\x1d"); ok { // enriched fields follow GS
		line = enriched
	}
	rest, ok := strings.CutPrefix(line, "type=")
	if !ok {
		return AuditEntry{}, false
	}
	typ, rest, ok := strings.Cut(rest, " ")
	if !ok || typ == "" || len(typ) > 64 {
		return AuditEntry{}, false
	}
	rest, ok = strings.CutPrefix(rest, "msg=audit(")
	if !ok {
		return AuditEntry{}, false
	}
	stamp, rest, ok := strings.Cut(rest, "):")
	if !ok {
		return AuditEntry{}, false
	}
	ts, ok := auditTime(stamp)
	if !ok {
		return AuditEntry{}, false
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
	return AuditEntry{
		Timestamp: ts, Source: "auditd", EventType: clip(typ, MaxFieldBytes), Subject: subj, Object: obj,
		Action: clip(action, MaxFieldBytes), Result: auditResult(kv), Hostname: clip(hostname, MaxFieldBytes),
		Raw: clip(line, MaxMessageBytes),
	}, true
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
	return "unknown"
}
