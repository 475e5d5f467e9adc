package envelope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestWriteFrame(t *testing.T) {
	var b bytes.Buffer
	if err := WriteComment(&b, "keepalive"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&b, Frame{ID: "42", Event: "peer_removed", Data: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&b, Frame{ID: "43", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	const want = ": keepalive\n\nid: 42\nevent: peer_removed\ndata: {\"a\":1}\n\nid: 43\ndata: {}\n\n"
	if b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
	if KeepaliveComment != ": keepalive\n\n" {
		t.Fatal("keepalive comment changed")
	}
	for name, f := range map[string]Frame{
		"no id":         {Data: []byte("x")},
		"LF in data":    {ID: "1", Data: []byte("a\nb")},
		"CR in data":    {ID: "1", Data: []byte("a\rb")},
		"LF in event":   {ID: "1", Event: "a\nb", Data: []byte("x")},
		"NUL in id":     {ID: "1\x00", Data: []byte("x")},
		"line too long": {ID: "1", Data: bytes.Repeat([]byte("x"), MaxLineBytes-len(dataPrefix)+1)},
	} {
		if err := WriteFrame(io.Discard, f); err == nil {
			t.Errorf("%s: written", name)
		}
	}
	if err := WriteFrame(io.Discard, Frame{ID: "1", Data: bytes.Repeat([]byte("x"), MaxLineBytes-len(dataPrefix))}); err != nil {
		t.Errorf("line of exactly MaxLineBytes refused: %v", err)
	}
	if err := WriteComment(io.Discard, "a\nb"); err == nil {
		t.Error("comment with LF written")
	}
}

// TestStreamRoundTrip frames signed envelopes, reads them back through the
// parser one byte at a time, and verifies them.
func TestStreamRoundTrip(t *testing.T) {
	k, pub := newKey(t, 1)
	s := newSigner(t, k, "", func() time.Time { return t0 })
	var stream bytes.Buffer
	for i := range 3 {
		e, err := s.Sign(context.Background(), Event{Type: "peer_removed", ID: "evt_" + string(rune('a'+i)), Payload: json.RawMessage(`{"peer_id":"n2","note":"a<b\u2028"}`)})
		if err != nil {
			t.Fatal(err)
		}
		f, err := EnvelopeFrame(uint64(100+i), &e)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteFrame(&stream, f); err != nil {
			t.Fatal(err)
		}
		if err := WriteComment(&stream, "keepalive"); err != nil {
			t.Fatal(err)
		}
	}
	v := newVerifier(t, KeySet{Current: Key{Public: pub}}, func() time.Time { return t0 })
	fr := NewFrameReader(iotest.OneByteReader(&stream))
	for i := range 3 {
		f, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if want := string(rune('0' + i)); f.ID != "10"+want || f.Event != "peer_removed" {
			t.Fatalf("frame %d: id %q event %q", i, f.ID, f.Event)
		}
		e, err := v.VerifyJSON(f.Data)
		if err != nil {
			t.Fatalf("frame %d does not verify: %v", i, err)
		}
		if e.EventType != f.Event {
			t.Fatalf("event %q vs event_type %q", f.Event, e.EventType)
		}
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if fr.LastEventID() != "102" {
		t.Fatalf("last event id %q", fr.LastEventID())
	}
}

func readAll(t *testing.T, r io.Reader) ([]Frame, error) {
	t.Helper()
	fr := NewFrameReader(r)
	var out []Frame
	for {
		f, err := fr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func TestFrameReaderParsing(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []Frame
	}{
		{"comments and keepalives never dispatch", ": hi\n\n: keepalive\n\n:\n\n", nil},
		{"block without data never dispatches", "id: 1\nevent: x\n\ndata: y\n\n", []Frame{{ID: "1", Data: []byte("y")}}},
		{"CRLF", "id: 1\r\nevent: e\r\ndata: {}\r\n\r\n", []Frame{{ID: "1", Event: "e", Data: []byte("{}")}}},
		{"CR only", "id: 1\revent: e\rdata: {}\r\r", []Frame{{ID: "1", Event: "e", Data: []byte("{}")}}},
		{"mixed terminators", "data: a\r\ndata: b\rdata: c\n\r\n", []Frame{{Data: []byte("a\nb\nc")}}},
		{"multi-line data", "data: a\ndata:\ndata: b\n\n", []Frame{{Data: []byte("a\n\nb")}}},
		{"no space after colon", "data:x\nevent:e\n\n", []Frame{{Event: "e", Data: []byte("x")}}},
		{"only one space stripped", "data:  x \n\n", []Frame{{Data: []byte(" x ")}}},
		{"field without colon", "data\n\n", []Frame{{Data: []byte("")}}},
		{"id persists, event resets", "id: 7\nevent: a\ndata: 1\n\ndata: 2\n\n", []Frame{{ID: "7", Event: "a", Data: []byte("1")}, {ID: "7", Data: []byte("2")}}},
		{"id with NUL ignored", "id: 1\n\nid: 2\x003\ndata: x\n\n", []Frame{{ID: "1", Data: []byte("x")}}},
		{"empty id resets", "id: 1\n\nid\ndata: x\n\n", []Frame{{ID: "", Data: []byte("x")}}},
		{"unknown fields ignored", "foo: bar\nretry: 10\ndata: x\nDATA: y\n\n", []Frame{{Data: []byte("x")}}},
		{"BOM skipped once", "\xef\xbb\xbfdata: x\n\n\xef\xbb\xbfdata: y\n\n", []Frame{{Data: []byte("x")}}},
		{"partial frame at EOF dropped", "data: x\n\ndata: y\n", []Frame{{Data: []byte("x")}}},
		{"unterminated line at EOF dropped", "data: x\n\ndata: y", []Frame{{Data: []byte("x")}}},
		{"empty stream", "", nil},
	}
	for _, c := range cases {
		for _, mode := range []string{"whole", "bytewise"} {
			var r io.Reader = strings.NewReader(c.in)
			if mode == "bytewise" {
				r = iotest.OneByteReader(r)
			}
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Errorf("%s/%s: err %v", c.name, mode, err)
			}
			if !sameFrames(got, c.want) {
				t.Errorf("%s/%s:\n got %q\nwant %q", c.name, mode, got, c.want)
			}
		}
	}
}

func sameFrames(a, b []Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Event != b[i].Event || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestFrameReaderRetry(t *testing.T) {
	fr := NewFrameReader(strings.NewReader("retry: 1500\nretry: x\nretry: -1\ndata: a\n\n"))
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if ms, ok := fr.Retry(); !ok || ms != 1500 {
		t.Fatalf("retry %d %v", ms, ok)
	}
}

// TestFrameReaderLimits checks the hard bounds: a line of MaxLineBytes is
// read, one byte more is refused without reading much further, and the
// error sticks.
func TestFrameReaderLimits(t *testing.T) {
	ok := "data: " + strings.Repeat("x", MaxLineBytes-len(dataPrefix)) + "\n\n"
	got, err := readAll(t, strings.NewReader(ok))
	if err != io.EOF || len(got) != 1 {
		t.Fatalf("line of MaxLineBytes: %d frames, %v", len(got), err)
	}

	// An endless line: the reader stops soon after the limit.
	cr := &countingReader{r: iotest.OneByteReader(endless('x'))}
	fr := NewFrameReader(cr)
	if _, err := fr.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("endless line: %v", err)
	}
	if cr.n > MaxLineBytes+8192 {
		t.Fatalf("read %d bytes before refusing", cr.n)
	}
	if _, err := fr.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("error not sticky: %v", err)
	}

	// A CR-terminated over-long line is refused too.
	long := "data: " + strings.Repeat("x", MaxLineBytes) + "\r\n\r\n"
	if _, err := readAll(t, strings.NewReader(long)); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("long CRLF line: %v", err)
	}

	// Many short data lines may not add up beyond the limit.
	var many strings.Builder
	for many.Len() < 2*MaxLineBytes {
		many.WriteString("data: " + strings.Repeat("y", 1000) + "\n")
	}
	many.WriteString("\n")
	if _, err := readAll(t, strings.NewReader(many.String())); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("accumulated data: %v", err)
	}

	// Endless comments and ids allocate nothing per line once warm.
	fr = NewFrameReader(endlessLines(": keepalive\nevent: x\n"))
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := fr.readLine(); err != nil {
			t.Fatal(err)
		}
		_ = fr.field([]byte("event: x"))
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per line", allocs)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

type repeatReader struct {
	s   string
	off int
}

func endlessLines(s string) io.Reader { return &repeatReader{s: s} }

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}
