package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// FuzzVerifyJSON feeds arbitrary bytes to the agent's verification path.
// It must never panic; whatever it accepts must really be signed by the
// trusted key over its canonical bytes, must survive re-encoding, and must
// not be accepted twice.
func FuzzVerifyJSON(f *testing.F) {
	f.Add([]byte(vecReceived))
	f.Add([]byte(vecEmitted))
	f.Add([]byte(strings.Replace(vecEmitted, `"team"`, `"Team"`, 1)))
	f.Add([]byte(strings.Replace(vecReceived, `"data": []`, `"data":[ ]`, 1)))
	f.Add([]byte(strings.Replace(vecEmitted, `"event_type"`, `"EVENT_TYPE"`, 1)))
	f.Add([]byte(`{"event_type":"x","event_id":"y","issued_at":"2026-03-01T12:00:00Z","nonce":"n","payload":null,"signature":"AA=="}`))
	f.Add([]byte(`{"event_type":"x","event_id":"y","issued_at":"","nonce":"n","payload":{},"signature":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	pub := vecKey(f).Public().(ed25519.PublicKey)
	ks := KeySet{Current: Key{Public: pub}}
	now := fixedClock("2026-03-01T12:02:00Z")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := NewVerifier(VerifierOptions{Keys: ks, Now: now, MaxNonces: 4})
		if err != nil {
			t.Fatal(err)
		}
		e, err := v.VerifyJSON(data)
		if err != nil {
			if !isVerifyError(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		msg, err := e.CanonicalBytes()
		if err != nil {
			t.Fatalf("accepted envelope has no canonical bytes: %v", err)
		}
		if fast, _ := canonicalBytes(e.EventType, e.EventID, e.IssuedAt, e.Nonce, e.Payload, payloadValid); !bytes.Equal(fast, msg) {
			t.Fatalf("decoded-payload path differs:\n%s\n%s", fast, msg)
		}
		if e.EventType == "" || e.EventID == "" || e.Nonce == "" || e.IssuedAt.IsZero() {
			t.Fatalf("accepted an envelope missing a member: %+v", e)
		}
		if e.IssuedAt.Before(now().Add(-FreshnessWindow)) || e.IssuedAt.After(now().Add(FreshnessWindow)) {
			t.Fatalf("accepted issued_at %v at %v", e.IssuedAt, now())
		}
		if _, err := v.VerifyJSON(data); !errors.Is(err, ErrReplay) {
			t.Fatalf("second delivery: %v", err)
		}
		// Re-encoded (canonical wire form), it verifies on a fresh verifier
		// to the same canonical bytes.
		wire, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		v2, _ := NewVerifier(VerifierOptions{Keys: ks, Now: now})
		e2, err := v2.VerifyJSON(wire)
		if err != nil {
			t.Fatalf("re-encoded envelope rejected: %v\n%s", err, wire)
		}
		msg2, _ := e2.CanonicalBytes()
		if !bytes.Equal(msg, msg2) {
			t.Fatalf("canonical bytes changed by re-encoding\n%s\n%s", msg, msg2)
		}
	})
}

func isVerifyError(err error) bool {
	for _, e := range []error{ErrMalformed, ErrStale, ErrFuture, ErrBadSignature, ErrUnknownKey, ErrKeyExpired, ErrReplay, ErrReplayCacheFull} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzFrameReader parses arbitrary streams. It must never panic or exceed
// its bounds; the result must not depend on how reads are chunked; and
// frames it yields, written back, must parse to the same frames.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("id: 1\nevent: peer_removed\ndata: " + vecEmitted + "\n\n: keepalive\n\n"))
	f.Add([]byte("id: 1\r\nevent: e\r\ndata: {}\r\n\r\n"))
	f.Add([]byte("data: a\rdata: b\r\rid: 2\x00\ndata\n\n"))
	f.Add([]byte("\xef\xbb\xbf: hi\nretry: 10\nid\ndata:x\n\n"))
	f.Add([]byte("data: x\n\ndata: y"))
	f.Add([]byte("\r\n\r\r\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		whole, werr := collect(NewFrameReader(bytes.NewReader(stream)))
		split, serr := collect(NewFrameReader(iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(stream)))))
		if !sameFrames(whole, split) || errKind(werr) != errKind(serr) {
			t.Fatalf("chunking changed the result:\n%q %v\n%q %v", whole, werr, split, serr)
		}
		var out bytes.Buffer
		var written []Frame
		for _, fr := range whole {
			if len(fr.Data) > MaxLineBytes {
				t.Fatalf("frame data of %d bytes", len(fr.Data))
			}
			if WriteFrame(&out, fr) == nil {
				written = append(written, fr)
			}
		}
		again, err := collect(NewFrameReader(&out))
		if err != io.EOF || !sameFrames(again, written) {
			t.Fatalf("written frames do not read back: %v\n%q\n%q", err, written, again)
		}
	})
}

// errKind classifies a reader's terminal error.
func errKind(err error) string {
	switch {
	case err == io.EOF:
		return "eof"
	case errors.Is(err, ErrLineTooLong):
		return "too long"
	}
	return "other: " + err.Error()
}

func collect(fr *FrameReader) ([]Frame, error) {
	var out []Frame
	for {
		f, err := fr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// FuzzCanonicalMatchesEncodingJSON holds CanonicalBytes equal to the
// literal §7.2 definition (json.Marshal of the five-field struct).
func FuzzCanonicalMatchesEncodingJSON(f *testing.F) {
	f.Add("node_state_updated", "evt_0001", "q3Zx0mY1s9Tn8VwB", []byte(`{ "a": "<&>" }`), int64(1772366400), int64(120000000), int16(0))
	f.Add("a\"<", "\xff", "\u2028", []byte(`[1.0, "\u00fc", "ü"]`), int64(-62135596800), int64(0), int16(-330))
	f.Add("", "", "", []byte(nil), int64(253402300799), int64(999999999), int16(840))
	f.Fuzz(func(t *testing.T, typ, id, nonce string, payload []byte, sec, nsec int64, offMin int16) {
		at := time.Unix(sec, nsec).In(time.FixedZone("", int(offMin)*60))
		// An empty payload is a missing one (null) for CanonicalBytes;
		// encoding/json only treats nil so, and cannot meet "" on the wire.
		var raw json.RawMessage
		if len(payload) > 0 {
			raw = payload
		}
		want, werr := goCanonical(typ, id, at, nonce, raw)
		got, gerr := CanonicalBytes(typ, id, at, nonce, raw)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("error mismatch: ours %v, encoding/json %v", gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got: %q\nwant: %q", got, want)
		}
		if gerr == nil {
			// The decoded-payload and Signer paths build the same bytes.
			fast, _ := canonicalBytes(typ, id, at, nonce, raw, payloadValid)
			p, _ := CanonicalPayload(raw)
			signer, _ := canonicalBytes(typ, id, at, nonce, p, payloadCanonical)
			if !bytes.Equal(fast, want) || !bytes.Equal(signer, want) {
				t.Fatalf("fast paths differ:\n%q\n%q\n%q", fast, signer, want)
			}
		}
	})
}
