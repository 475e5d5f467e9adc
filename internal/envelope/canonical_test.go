package envelope

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// goCanonical is the §7.2 definition taken literally: json.Marshal of the
// five-field struct. The package's own layout must equal it.
func goCanonical(eventType, eventID string, issuedAt time.Time, nonce string, payload json.RawMessage) ([]byte, error) {
	type signedFields struct {
		EventType string          `json:"event_type"`
		EventID   string          `json:"event_id"`
		IssuedAt  time.Time       `json:"issued_at"`
		Nonce     string          `json:"nonce"`
		Payload   json.RawMessage `json:"payload"`
	}
	return json.Marshal(signedFields{eventType, eventID, issuedAt, nonce, payload})
}

func TestCanonicalIssuedAt(t *testing.T) {
	// The renderings of §7.2 T, from the spec text.
	cases := map[string]string{
		"2026-03-01T12:00:00.000Z":            "2026-03-01T12:00:00Z",
		"2026-03-01T12:00:00.120+00:00":       "2026-03-01T12:00:00.12Z",
		"2026-03-01T12:00:00.120-00:00":       "2026-03-01T12:00:00.12Z",
		"2026-03-01T14:00:00.5+02:00":         "2026-03-01T14:00:00.5+02:00",
		"2026-03-01T12:00:00.123456789Z":      "2026-03-01T12:00:00.123456789Z",
		"2026-03-01T12:00:00.100000000-05:30": "2026-03-01T12:00:00.1-05:30",
	}
	for in, want := range cases {
		var e Envelope
		if err := json.Unmarshal([]byte(`{"issued_at":"`+in+`"}`), &e); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got, err := CanonicalBytes("a", "b", e.IssuedAt, "n", json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		wantBytes := `{"event_type":"a","event_id":"b","issued_at":"` + want + `","nonce":"n","payload":{}}`
		if string(got) != wantBytes {
			t.Errorf("%s\n got: %s\nwant: %s", in, got, wantBytes)
		}
	}
}

func TestCanonicalPayload(t *testing.T) {
	// §7.2 P: whitespace outside strings removed, <>& U+2028 U+2029
	// escaped, nothing else changed.
	cases := []struct{ in, want string }{
		{"", "null"},
		{"null", "null"},
		{" \t\r\n{ } ", "{}"},
		{`{"a": 1.0, "a" : 2e0}`, `{"a":1.0,"a":2e0}`},
		{`{"s":"Z\u00fcrich","r":"Zürich"}`, `{"s":"Z\u00fcrich","r":"Zürich"}`},
		{`{"k":"a<b & c>d"}`, `{"k":"a\u003cb \u0026 c\u003ed"}`},
		{"{\"k\":\"x\u2028y\u2029z\"}", `{"k":"x\u2028y\u2029z"}`},
		{`{"k":"keep  inner   spaces\t"}`, `{"k":"keep  inner   spaces\t"}`},
		{`{"k":"esc \" \\ \/ <"}`, `{"k":"esc \" \\ \/ \u003c"}`},
		{`[1, [2, {"<":">"}], "&"]`, `[1,[2,{"\u003c":"\u003e"}],"\u0026"]`},
		{`{"k":"\u003c"}`, `{"k":"\u003c"}`},
	}
	for _, c := range cases {
		got, err := CanonicalPayload([]byte(c.in))
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("%q\n got: %s\nwant: %s", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"{", `{"a":}`, "nul", `{"a":1}}`, "\x00"} {
		if _, err := CanonicalPayload([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
}

// TestCanonicalMatchesEncodingJSON holds the hand-built layout equal to the
// spec's definition on awkward inputs; FuzzCanonicalMatchesEncodingJSON
// explores further.
func TestCanonicalMatchesEncodingJSON(t *testing.T) {
	ts := []time.Time{
		t0, t0.Add(123 * time.Millisecond), t0.Add(time.Nanosecond).In(time.FixedZone("x", -3*3600-1800)),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	strs := []string{"", "node_state_updated", `q"uo\te`, "<>&", "\x00\x01\b\f\n\r\t\x1f\x7f", "\xff\xfe", "é\u2028\u2029ü", "\xe2\x80", "a\xe2\x80\xa8"}
	payloads := []string{"", "null", `{"a":"<\u2028>"}`, " [ 1 , 2 ] ", "\"\xff\"", "{\"a\":\"\xe2\x80\xa9\"}"}
	for _, tm := range ts {
		for _, s := range strs {
			for _, p := range payloads {
				var raw json.RawMessage
				if p != "" {
					raw = json.RawMessage(p)
				}
				want, werr := goCanonical(s, s, tm, s, raw)
				got, gerr := CanonicalBytes(s, s, tm, s, raw)
				if (werr == nil) != (gerr == nil) || string(got) != string(want) {
					t.Fatalf("s=%q p=%q t=%v\n got: %s (%v)\nwant: %s (%v)", s, p, tm, got, gerr, want, werr)
				}
			}
		}
	}
	if _, err := CanonicalBytes("a", "b", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "n", nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("year 10000: %v", err)
	}
}
