package apiclient

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// sseFrame is one dispatched server-sent event.
type sseFrame struct {
	event, id string
	data      []byte
}

// sseReader splits a text/event-stream into frames: comments are
// skipped, data lines joined with newlines, a blank line dispatches. It is
// the one parser behind every stream of this client.
type sseReader struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	what string // names the stream in errors
	err  error
}

func newSSEReader(body io.ReadCloser, maxLine int, what string) *sseReader {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, min(maxLine, 64<<10)), maxLine)
	return &sseReader{body: body, sc: sc, what: what}
}

// next returns the next frame that names an event, or io.EOF once the
// server ended the stream; after an error every call returns it.
func (r *sseReader) next() (sseFrame, error) {
	if r.err != nil {
		return sseFrame{}, r.err
	}
	var (
		f    sseFrame
		data bytes.Buffer
	)
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 { // dispatch
			if f.event == "" {
				f, data = sseFrame{}, bytes.Buffer{}
				continue
			}
			f.data = bytes.Clone(data.Bytes())
			return f, nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			f.event = string(value)
		case "id":
			f.id = string(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		}
	}
	r.err = io.EOF
	if err := r.sc.Err(); err != nil {
		r.err = fmt.Errorf("apiclient: %s: %w", r.what, err)
	}
	return sseFrame{}, r.err
}

// fail records a decoding error as the stream's final one.
func (r *sseReader) fail(err error) error {
	r.err = err
	return err
}

// Close releases the connection.
func (r *sseReader) Close() error { return r.body.Close() }
