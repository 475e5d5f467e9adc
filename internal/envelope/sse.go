package envelope

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxLineBytes is the longest SSE line, terminator excluded, that the
// control plane writes and plexd reads (F2). It is below the existing
// agent's 64 KiB line buffer.
const MaxLineBytes = 65_000

// KeepaliveComment is the comment the control plane writes at least every
// 15 s on an open stream (F3).
const KeepaliveComment = ": keepalive\n\n"

const dataPrefix = "data: "

// Frame is one dispatched SSE event (§6.2).
type Frame struct {
	// ID is the id: field, the entry's decimal sequence number (L2). On
	// reading it is the stream's last event id when the frame dispatched.
	ID string
	// Event is the event: field, normally the envelope's event_type.
	Event string
	// Data is the data: value; for the node stream, one envelope as
	// compact JSON.
	Data []byte
}

// Framing errors.
var (
	// ErrLineTooLong: a line exceeds MaxLineBytes. A reader returns it and
	// then only it; the stream must be reopened.
	ErrLineTooLong = errors.New("envelope: SSE line exceeds the limit")
	// ErrBadFrame: a frame to write has a field that SSE cannot carry.
	ErrBadFrame = errors.New("envelope: frame cannot be written as SSE")
)

// EnvelopeFrame frames e as log entry seq (§6.2 F1): id is seq in decimal,
// event is e's event_type, data the compact envelope.
func EnvelopeFrame(seq uint64, e *Envelope) (Frame, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return Frame{}, fmt.Errorf("envelope: marshal: %w", err)
	}
	return Frame{ID: strconv.FormatUint(seq, 10), Event: e.EventType, Data: data}, nil
}

// WriteFrame writes f as "id:", "event:" (when set) and one "data:" line,
// then a blank line, in a single Write. Fields must not contain CR or LF
// (one data line per event, F1), ID is required and has no NUL, and no line
// may exceed MaxLineBytes (F2). The caller flushes.
func WriteFrame(w io.Writer, f Frame) error {
	switch {
	case f.ID == "":
		return fmt.Errorf("%w: id is required (F1)", ErrBadFrame)
	case strings.ContainsAny(f.ID, "\r\n\x00"), strings.ContainsAny(f.Event, "\r\n"),
		bytes.ContainsAny(f.Data, "\r\n"):
		return fmt.Errorf("%w: CR, LF or NUL in a field", ErrBadFrame)
	case len("id: ")+len(f.ID) > MaxLineBytes, len("event: ")+len(f.Event) > MaxLineBytes,
		len(dataPrefix)+len(f.Data) > MaxLineBytes:
		return fmt.Errorf("%w: a line over %d bytes", ErrTooLarge, MaxLineBytes)
	}
	b := make([]byte, 0, len(f.ID)+len(f.Event)+len(f.Data)+24)
	b = append(b, "id: "...)
	b = append(b, f.ID...)
	b = append(b, '\n')
	if f.Event != "" {
		b = append(b, "event: "...)
		b = append(b, f.Event...)
		b = append(b, '\n')
	}
	b = append(b, dataPrefix...)
	b = append(b, f.Data...)
	b = append(b, '\n', '\n')
	_, err := w.Write(b)
	return err
}

// WriteComment writes ": text" and a blank line (F3, F4). text must not
// contain CR or LF.
func WriteComment(w io.Writer, text string) error {
	if strings.ContainsAny(text, "\r\n") || len(text)+2 > MaxLineBytes {
		return fmt.Errorf("%w: comment", ErrBadFrame)
	}
	_, err := io.WriteString(w, ": "+text+"\n\n")
	return err
}

// FrameReader parses an SSE stream as the WHATWG event-stream algorithm
// does: lines end in LF, CRLF or CR; a leading BOM is skipped; lines
// starting with ":" are comments; "data" lines are joined with LF; a blank
// line dispatches the frame if it has data (F4); "id" without NUL sets the
// last event id; "retry" with digits sets the reconnection delay; other
// fields are ignored; a partial frame at EOF is discarded.
//
// Memory is bounded on hostile input: no line may exceed MaxLineBytes and
// no frame may hold more than MaxLineBytes of data, else ErrLineTooLong.
type FrameReader struct {
	r *bufio.Reader
	// line is reused for every line; at most MaxLineBytes long.
	line []byte
	// skipLF is set after a CR: a following LF belongs to the same break.
	skipLF bool
	first  bool
	err    error

	data      []byte
	hasData   bool
	event     []byte
	lastID    string
	retry     int64
	haveRetry bool
}

// NewFrameReader reads frames from r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 4096), first: true}
}

// LastEventID is the id to send as Last-Event-ID on reconnect.
func (fr *FrameReader) LastEventID() string { return fr.lastID }

// Retry returns the last "retry:" value in milliseconds, if any.
func (fr *FrameReader) Retry() (int64, bool) { return fr.retry, fr.haveRetry }

// Next returns the next dispatched frame. At the end of the stream it
// returns io.EOF (a partial frame is dropped); after ErrLineTooLong or a
// read error it keeps returning that error. Frame.Data is the caller's.
func (fr *FrameReader) Next() (Frame, error) {
	for fr.err == nil {
		line, err := fr.readLine()
		if err != nil {
			fr.err = err
			break
		}
		if fr.first {
			fr.first = false
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 {
			if f, ok := fr.dispatch(); ok {
				return f, nil
			}
			continue
		}
		if err := fr.field(line); err != nil {
			fr.err = err
		}
	}
	return Frame{}, fr.err
}

// field processes one non-empty line.
func (fr *FrameReader) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment or keepalive
	}
	name, value, found := bytes.Cut(line, []byte(":"))
	if found && len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(name) {
	case "data":
		n := len(fr.data) + len(value)
		if fr.hasData {
			n++
		}
		if n > MaxLineBytes {
			return fmt.Errorf("%w: frame data over %d bytes", ErrLineTooLong, MaxLineBytes)
		}
		if fr.hasData {
			fr.data = append(fr.data, '\n')
		}
		fr.data = append(fr.data, value...)
		fr.hasData = true
	case "event":
		fr.event = append(fr.event[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			fr.lastID = string(value)
		}
	case "retry":
		if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 && isDigits(value) {
			fr.retry, fr.haveRetry = n, true
		}
	}
	return nil
}

// dispatch ends a frame at a blank line.
func (fr *FrameReader) dispatch() (Frame, bool) {
	defer func() {
		fr.data, fr.hasData, fr.event = fr.data[:0], false, fr.event[:0]
	}()
	if !fr.hasData {
		return Frame{}, false
	}
	return Frame{ID: fr.lastID, Event: string(fr.event), Data: bytes.Clone(fr.data)}, true
}

// readLine returns the next line without its terminator. The slice is
// valid until the next call.
func (fr *FrameReader) readLine() ([]byte, error) {
	fr.line = fr.line[:0]
	for {
		if fr.skipLF {
			c, err := fr.r.ReadByte()
			if err != nil {
				return nil, err
			}
			fr.skipLF = false
			if c != '\n' {
				_ = fr.r.UnreadByte()
			}
		}
		if _, err := fr.r.Peek(1); err != nil {
			return nil, err // a line cut by EOF is discarded
		}
		buf, _ := fr.r.Peek(fr.r.Buffered())
		i := bytes.IndexAny(buf, "\r\n")
		chunk := buf
		if i >= 0 {
			chunk = buf[:i]
		}
		if len(fr.line)+len(chunk) > MaxLineBytes {
			return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, MaxLineBytes)
		}
		fr.line = append(fr.line, chunk...)
		if i < 0 {
			_, _ = fr.r.Discard(len(buf))
			continue
		}
		fr.skipLF = buf[i] == '\r'
		_, _ = fr.r.Discard(i + 1)
		return fr.line, nil
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
