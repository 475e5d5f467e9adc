package access

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Recording upload pacing.
const (
	uploadEvery = time.Second
	// finalAttempts bounds the tries of the last upload.
	finalAttempts = 3
	// markerReserve is kept free below RecordingMax for the cut marker.
	markerReserve = 256
	// Default terminal size of the asciicast header.
	defaultWidth, defaultHeight = 80, 24
)

// recorder writes one ssh connection's output as asciicast v2 (a header
// line, then [time, "o", data] events; "r" for resizes, "m" markers),
// bounded by RecordingMax, and uploads it in chunks at most every
// uploadEvery, the last one final.
type recorder struct {
	s         *Server
	sessionID string
	start     time.Time
	max       int64
	finished  chan struct{}
	done      chan struct{}

	// mu guards everything below.
	mu            sync.Mutex
	width, height int
	header        bool
	cut           bool
	closed        bool
	written       int64  // bytes produced so far
	pending       []byte // produced, not uploaded yet
	sent          int64  // bytes uploaded (the next chunk's offset)
}

// newRecorder starts the recording of a session and its upload loop.
func (s *Server) newRecorder(sessionID string) *recorder {
	r := &recorder{s: s, sessionID: sessionID, start: s.clk.Now(), max: s.opts.RecordingMax,
		width: defaultWidth, height: defaultHeight, finished: make(chan struct{}), done: make(chan struct{})}
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		defer close(r.done)
		r.uploadLoop()
	}()
	return r
}

// size sets the header's terminal size while no line is written yet.
func (r *recorder) size(w, h int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.header && w > 0 && h > 0 {
		r.width, r.height = w, h
	}
}

// resize records a window change.
func (r *recorder) resize(w, h int) {
	r.event("r", fmt.Sprintf("%dx%d", w, h))
}

// marker records an asciicast marker.
func (r *recorder) marker(label string) { r.event("m", label) }

// output returns the writer of one command's output; skip records a
// marker instead of the bytes (legacy scp file contents).
func (r *recorder) output(skip bool) io.Writer {
	if skip {
		r.marker("scp transfer (not recorded)")
		return io.Discard
	}
	return &outWriter{r: r}
}

// outWriter turns output into "o" events, holding back a UTF-8 sequence
// split across writes so it is not mangled.
type outWriter struct {
	r *recorder
	// mu guards carry.
	mu    sync.Mutex
	carry []byte
}

func (w *outWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := append(w.carry, p...)
	cut := len(data)
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				cut = i
			}
			break
		}
	}
	w.carry = append([]byte(nil), data[cut:]...)
	if cut > 0 {
		w.r.event("o", string(data[:cut]))
	}
	return len(p), nil
}

// event appends one event line, cutting the recording with a marker when
// it would pass the bound.
func (r *recorder) event(kind, data string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.cut {
		return
	}
	r.headerLocked()
	t := r.s.clk.Now().Sub(r.start).Seconds()
	line := eventLine(t, kind, data)
	if r.written+int64(len(line)) > r.max-markerReserve {
		r.cut = true
		line = eventLine(t, "m", fmt.Sprintf("recording cut: the limit of %d bytes was reached", r.max))
		if r.written+int64(len(line)) > r.max {
			return
		}
	}
	r.appendLocked(line)
}

func eventLine(t float64, kind, data string) []byte {
	t = math.Round(max(t, 0)*1e6) / 1e6
	b, _ := json.Marshal([]any{t, kind, data})
	return append(b, '\n')
}

// headerLocked writes the header line once.
func (r *recorder) headerLocked() {
	if r.header {
		return
	}
	r.header = true
	b, _ := json.Marshal(struct {
		Version   int   `json:"version"`
		Width     int   `json:"width"`
		Height    int   `json:"height"`
		Timestamp int64 `json:"timestamp"`
	}{2, r.width, r.height, r.start.Unix()})
	r.appendLocked(append(b, '\n'))
}

func (r *recorder) appendLocked(b []byte) {
	r.pending = append(r.pending, b...)
	r.written += int64(len(b))
}

// finish ends the recording and waits for its final upload.
func (r *recorder) finish() {
	r.mu.Lock()
	if !r.closed {
		r.headerLocked()
		r.closed = true
		close(r.finished)
	}
	r.mu.Unlock()
	<-r.done
}

func (r *recorder) uploadLoop() {
	for {
		select {
		case <-r.finished:
			for i := 0; i < finalAttempts; i++ {
				if r.upload(true) {
					return
				}
				select {
				case <-r.s.ctx.Done():
					return
				case <-r.s.clk.After(uploadEvery):
				}
			}
			return
		case <-r.s.clk.After(uploadEvery):
			r.upload(false)
		}
	}
}

// upload sends what is pending in chunks of at most MaxRecordingChunk;
// with final, the last chunk (possibly empty) says so. It reports
// whether everything was sent; what failed stays pending.
func (r *recorder) upload(final bool) bool {
	for {
		r.mu.Lock()
		n := min(len(r.pending), nodeproto.MaxRecordingChunk)
		chunk := append([]byte(nil), r.pending[:n]...)
		last := final && n == len(r.pending)
		off := r.sent
		r.mu.Unlock()
		if n == 0 && !last {
			return true
		}
		if err := r.s.opts.Reporter.Recording(r.s.ctx, r.sessionID, off, chunk, last); err != nil {
			r.s.log.LogAttrs(r.s.ctx, slog.LevelWarn, "access recording upload failed",
				slog.String(keySessionID, r.sessionID), slog.String(logkey.Error, err.Error()))
			return false
		}
		r.mu.Lock()
		r.pending = r.pending[n:]
		r.sent += int64(n)
		r.mu.Unlock()
		if last {
			return true
		}
	}
}
