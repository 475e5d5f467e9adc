package actions

import (
	"context"
	"log/slog"
	"sync"
)

// maxLogLine bounds one kept log line.
const maxLogLine = 4 << 10

// LogRing keeps plexd's last log records as JSON lines for
// diagnostics.bundle. Wrap the logger's handler with Handler.
type LogRing struct {
	// mu guards lines and next.
	mu    sync.Mutex
	lines []string // a ring of at most cap(lines) lines
	next  int      // where the next line goes once the ring is full
}

// NewLogRing keeps the last n lines (n ≥ 1).
func NewLogRing(n int) *LogRing {
	return &LogRing{lines: make([]string, 0, max(n, 1))}
}

// Write keeps p as one line (slog handlers write one record per call).
func (r *LogRing) Write(p []byte) (int, error) {
	s := string(p[:min(len(p), maxLogLine)])
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, s)
	} else {
		r.lines[r.next] = s
		r.next = (r.next + 1) % len(r.lines)
	}
	return len(p), nil
}

// Lines returns up to n of the newest lines, oldest first.
func (r *LogRing) Lines(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	out = append(out, r.lines[:r.next]...)
	if n < len(out) {
		out = out[len(out)-max(n, 0):]
	}
	return out
}

// Handler wraps next: every record next handles is also kept, as JSON.
func (r *LogRing) Handler(next slog.Handler) slog.Handler {
	return &ringHandler{next: next, keep: slog.NewJSONHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug})}
}

// ringHandler tees records into the ring.
type ringHandler struct {
	next, keep slog.Handler
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	h.keep.Handle(ctx, rec)
	return h.next.Handle(ctx, rec)
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ringHandler{next: h.next.WithAttrs(as), keep: h.keep.WithAttrs(as)}
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	return &ringHandler{next: h.next.WithGroup(name), keep: h.keep.WithGroup(name)}
}
