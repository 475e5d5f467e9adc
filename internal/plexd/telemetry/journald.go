package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// LogSource streams log lines until ctx ends, calling emit from one
// goroutine. ErrUnavailable means the host has no such source.
type LogSource interface {
	Run(ctx context.Context, emit func(LogEntry)) error
}

// ErrUnavailable: the source does not exist on this host; its collector
// is disabled.
var ErrUnavailable = errors.New("telemetry: source unavailable on this host")

// JournaldOptions configures the journald source.
type JournaldOptions struct {
	// Units is the allow-list: only these units' lines are read.
	// Required (an empty list reads no journal).
	Units []string
	// Hostname is used when a record has no _HOSTNAME.
	Hostname string
	// CursorPath keeps the journal cursor of the last line read, so a
	// restart resumes after it ("" keeps none: a start reads from now).
	CursorPath string
	// Command is journalctl's name or path ("journalctl" when "").
	Command string
	// LookPath finds Command (exec.LookPath when nil).
	LookPath func(string) (string, error)
	Clock    clock.Clock
	Logger   *slog.Logger
}

// Journald runs `journalctl -o json --follow` over the allowed units and
// turns each record into a LogEntry (source "journald"). When journalctl
// exits it is restarted after the last cursor, with backoff.
type Journald struct {
	opts  JournaldOptions
	allow map[string]bool
	clk   clock.Clock
}

// Journal restart backoff.
const (
	journalMinBackoff = 5 * time.Second
	journalMaxBackoff = 5 * time.Minute
	cursorSaveEvery   = 5 * time.Second
)

// NewJournald builds the journald source.
func NewJournald(opts JournaldOptions) (*Journald, error) {
	if len(opts.Units) == 0 {
		return nil, errors.New("telemetry: JournaldOptions.Units is required")
	}
	if opts.Command == "" {
		opts.Command = "journalctl"
	}
	if opts.LookPath == nil {
		opts.LookPath = exec.LookPath
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Journald{opts: opts, allow: unitSet(opts.Units), clk: clock.OrReal(opts.Clock)}, nil
}

// unitSet normalises unit names as journalctl -u does: a name without a
// type suffix is a service.
func unitSet(units []string) map[string]bool {
	out := make(map[string]bool, len(units))
	for _, u := range units {
		out[normUnit(u)] = true
	}
	return out
}

func normUnit(u string) string {
	if u != "" && !strings.Contains(u, ".") {
		return u + ".service"
	}
	return u
}

// Run implements LogSource.
func (j *Journald) Run(ctx context.Context, emit func(LogEntry)) error {
	path, err := j.opts.LookPath(j.opts.Command)
	if err != nil {
		return fmt.Errorf("%w: %s not found", ErrUnavailable, j.opts.Command)
	}
	cursor := j.loadCursor()
	since := j.clk.Now()
	for attempt := 0; ; attempt++ {
		started := j.clk.Now()
		cursor, err = j.runOnce(ctx, path, cursor, since, emit)
		if ctx.Err() != nil {
			return nil
		}
		if j.clk.Now().Sub(started) > journalMaxBackoff {
			attempt = 0
		}
		wait := min(journalMinBackoff<<min(attempt, 10), journalMaxBackoff)
		attrs := []slog.Attr{slog.Duration(logkey.RetryIn, wait)}
		if err != nil {
			attrs = append(attrs, slog.String(logkey.Error, err.Error()))
		}
		j.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "journalctl stopped; restarting", attrs...)
		select {
		case <-ctx.Done():
			return nil
		case <-j.clk.After(wait):
		}
	}
}

// args are journalctl's arguments: JSON records of the allowed units,
// following, after cursor (or since the given time).
func (j *Journald) args(cursor string, since time.Time) []string {
	args := []string{"--output=json", "--follow", "--all", "--no-pager",
		"--output-fields=MESSAGE,PRIORITY,_SYSTEMD_UNIT,UNIT,_HOSTNAME"}
	if cursor != "" {
		args = append(args, "--after-cursor="+cursor)
	} else {
		args = append(args, "--since=@"+strconv.FormatInt(since.Unix(), 10))
	}
	for u := range j.allow {
		args = append(args, "--unit="+u)
	}
	return args
}

// runOnce runs journalctl until it exits or ctx ends and answers the
// cursor of the last record read.
func (j *Journald) runOnce(ctx context.Context, path, cursor string, since time.Time, emit func(LogEntry)) (string, error) {
	cmd := exec.CommandContext(ctx, path, j.args(cursor, since)...)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		return cursor, err
	}
	if err := cmd.Start(); err != nil {
		return cursor, err
	}
	saved, lastSave := cursor, j.clk.Now()
	_, rerr := readLines(out, MaxLineBytes, func(line []byte) {
		e, c, ok := ParseJournal(line, j.allow, j.opts.Hostname)
		if c != "" {
			cursor = c
		}
		if ok {
			emit(e)
		}
		if cursor != saved && j.clk.Now().Sub(lastSave) >= cursorSaveEvery {
			j.saveCursor(ctx, cursor)
			saved, lastSave = cursor, j.clk.Now()
		}
	})
	werr := cmd.Wait()
	if cursor != saved {
		j.saveCursor(ctx, cursor)
	}
	return cursor, errors.Join(rerr, werr)
}

func (j *Journald) loadCursor() string {
	if j.opts.CursorPath == "" {
		return ""
	}
	raw, err := os.ReadFile(j.opts.CursorPath)
	if err != nil || len(raw) > 1024 {
		return ""
	}
	c := strings.TrimSpace(string(raw))
	if !validCursor(c) {
		return ""
	}
	return c
}

func (j *Journald) saveCursor(ctx context.Context, c string) {
	if j.opts.CursorPath == "" || !validCursor(c) {
		return
	}
	if err := writeState(j.opts.CursorPath, []byte(c+"\n")); err != nil {
		j.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "saving the journal cursor failed", slog.String(logkey.Error, err.Error()))
	}
}

// validCursor: a journal cursor is printable ASCII without spaces.
func validCursor(c string) bool {
	if c == "" || len(c) > 512 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] > '~' {
			return false
		}
	}
	return true
}

// ParseJournal turns one line of `journalctl -o json` into a LogEntry
// and answers the record's cursor. A record of a unit not in allow, or
// without a time or message, is not an entry (ok false); hostname fills
// a missing _HOSTNAME.
func ParseJournal(line []byte, allow map[string]bool, hostname string) (e LogEntry, cursor string, ok bool) {
	var rec map[string]json.RawMessage
	if json.Unmarshal(line, &rec) != nil {
		return LogEntry{}, "", false
	}
	if c := journalField(rec["__CURSOR"]); validCursor(c) {
		cursor = c
	}
	us, err := strconv.ParseInt(journalField(rec["__REALTIME_TIMESTAMP"]), 10, 64)
	if err != nil || us <= 0 || us > 1<<62/1000 {
		return LogEntry{}, cursor, false
	}
	unit := ""
	for _, k := range []string{"_SYSTEMD_UNIT", "UNIT"} {
		if u := journalField(rec[k]); u != "" && (len(allow) == 0 || allow[u]) {
			unit = u
			break
		}
	}
	if unit == "" {
		return LogEntry{}, cursor, false
	}
	msg := strings.TrimRight(clip(journalField(rec["MESSAGE"]), MaxMessageBytes), "\r\n")
	if strings.TrimSpace(msg) == "" {
		return LogEntry{}, cursor, false
	}
	sev := "info"
	if p, err := strconv.Atoi(journalField(rec["PRIORITY"])); err == nil && p >= 0 && p < len(severities) {
		sev = severities[p]
	}
	host := journalField(rec["_HOSTNAME"])
	if host == "" {
		host = hostname
	}
	return LogEntry{
		Timestamp: time.UnixMicro(us).UTC(), Source: "journald", Unit: clip(unit, MaxFieldBytes),
		Message: msg, Severity: sev, Hostname: clip(host, MaxFieldBytes),
	}, cursor, true
}

// journalField reads a journal JSON field: a string, an array of bytes
// (binary data), or an array of values (a repeated field: the first).
func journalField(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var bs []byte
	var nums []int
	if json.Unmarshal(raw, &nums) == nil {
		for _, n := range nums {
			if n < 0 || n > 255 {
				return ""
			}
			bs = append(bs, byte(n))
		}
		return string(bs)
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 && len(many[0]) > 0 && many[0][0] != '[' {
		return journalField(many[0])
	}
	return ""
}
