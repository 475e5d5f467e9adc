package events

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// FuzzParseSeq: a Last-Event-ID is accepted only as decimal digits naming
// a non-negative int64, with the value strconv reads.
func FuzzParseSeq(f *testing.F) {
	for _, s := range []string{"0", "1", "42", "007", "-1", "+1", " 1", "1 ", "1.0", "0x1", "9223372036854775807", "9223372036854775808", "", "١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseSeq(s)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
		back, err := strconv.ParseInt(s, 10, 64)
		if err != nil || back != n {
			t.Fatalf("%q parsed to %d, strconv says %d, %v", s, n, back, err)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("%q accepted with a non-digit", s)
			}
		}
	})
}

// fuzzLimits are small, so the fuzzer reaches every bound.
var fuzzLimits = ReportLimits{Entries: 3, EntryBytes: 64, Keys: 4, Bytes: 256}

// nodeBody runs a fuzzed body through the node endpoints' decoding: as is,
// or (gz) as a gzip stream inflated within limit. A refusal must be a
// problem with one of the statuses allowed.
func nodeBody(t *testing.T, data []byte, gz bool, limit int64) ([]byte, bool) {
	t.Helper()
	if !gz {
		return data, true
	}
	body, p := inflateBody(bytes.NewReader(data), limit)
	if p != nil {
		if p.Status != http.StatusBadRequest && p.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("inflate refused with %d %s", p.Status, p.Code)
		}
		return nil, false
	}
	if int64(len(body)) > limit {
		t.Fatalf("inflated %d bytes past the %d limit", len(body), limit)
	}
	return body, true
}

func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

// refusedWith fails unless err is a problem with one of statuses.
func refusedWith(t *testing.T, err error, statuses ...int) {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("refused with a non-problem %v", err)
	}
	for _, s := range statuses {
		if p.Status == s {
			return
		}
	}
	t.Fatalf("refused with %d %s", p.Status, p.Code)
}

// FuzzReportBody: the report body's whole decoding path (gzip inflate,
// JSON decode, bounds, validation) never panics, refuses only with 400 or
// 413, and keeps only entries both databases store as given: within the
// per-report bounds (issue 7 row 12), valid report keys, UTF-8 text
// without NUL, JSON payloads.
func FuzzReportBody(f *testing.F) {
	seeds := []string{
		``, `{}`, `null`, `[1]`, `{"entries":null,"deleted":null}`,
		`{"entries":[{"key":"k1","content_type":"application/json","payload":{"a":1},"version":2,"updated_at":"2026-01-01T00:00:00Z"}],"deleted":["k2"]}`,
		`{"entries":[{"key":"../x","version":1},{"key":"a\u0000b","version":1},{"key":"k","version":0}]}`,
		`{"entries":[{"key":"k","content_type":"t","payload":"` + strings.Repeat("x", 80) + `","version":1}]}`,
		`{"entries":[{},{},{},{}]}`, `{"deleted":["a","b","c","d"]}`, `{"deleted":["a/b",".","\u0000"]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add(gzipped(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		body, ok := nodeBody(t, data, gz, 4096)
		if !ok {
			return
		}
		b, err := decodeReport(body, fuzzLimits)
		if err != nil {
			refusedWith(t, err, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
			return
		}
		if len(b.entries) > fuzzLimits.Entries || len(b.deleted) > fuzzLimits.Entries {
			t.Fatalf("%d entries, %d deleted past the bound", len(b.entries), len(b.deleted))
		}
		for _, e := range b.entries {
			if e.Validate() != nil || e.Payload == nil || len(e.Payload) > fuzzLimits.EntryBytes || !utf8.Valid(e.Payload) ||
				!storableField(e.Key) || !storableField(e.ContentType) {
				t.Fatalf("kept entry %+v", e)
			}
		}
		for _, k := range b.deleted {
			if !nodeproto.ValidReportKey(k) || !storableField(k) {
				t.Fatalf("kept deleted key %q", k)
			}
		}
	})
}

// FuzzIngestBody: a telemetry body's whole decoding path (gzip inflate,
// JSON check) never panics, refuses only with 400 or 413, and accepts
// exactly valid JSON arrays and null.
func FuzzIngestBody(f *testing.F) {
	for _, s := range []string{``, `[]`, `null`, `[{"x":1}]`, `{}`, ` [ ] `, `[`, `"a"`, `nul`, "[\xff]"} {
		f.Add([]byte(s), false)
		f.Add(gzipped(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		body, ok := nodeBody(t, data, gz, 4096)
		if !ok {
			return
		}
		n, err := decodeIngest("application/json", body)
		t0 := bytes.TrimSpace(body)
		want := len(t0) > 0 && (t0[0] == '[' || string(t0) == "null") && json.Valid(t0)
		if (err == nil) != want {
			t.Fatalf("%q: accepted=%v, want %v", body, err == nil, want)
		}
		var items []json.RawMessage
		if err == nil && (json.Unmarshal(t0, &items) != nil || n != len(items)) {
			t.Fatalf("%q: %d records, want %d", body, n, len(items))
		}
		if err != nil {
			refusedWith(t, err, http.StatusBadRequest)
		}
	})
}

// FuzzIngestNDJSON (issue 8): an NDJSON telemetry body (the contract's
// logs and audit form) never panics, is accepted exactly when every
// non-blank line is a JSON object, and counts those lines as records.
func FuzzIngestNDJSON(f *testing.F) {
	for _, s := range []string{``, "{}\n{}", "{\"a\":1}\n\n{\"b\":2}\n", `[]`, "{}\n[", "\xff", " \n "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := decodeIngest("application/x-ndjson; charset=utf-8", body)
		want, lines := true, 0
		for _, l := range bytes.Split(body, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				lines++
				want = want && l[0] == '{' && json.Valid(l)
			}
		}
		if (err == nil) != want || (err == nil && n != lines) {
			t.Fatalf("%q: accepted=%v with %d records, want %v with %d", body, err == nil, n, want, lines)
		}
		if err != nil {
			refusedWith(t, err, http.StatusBadRequest)
		}
	})
}

// FuzzCapabilitiesManifest: any capabilities body either fails to decode,
// is refused by checkManifest with a 400, or is accepted; an accepted
// manifest diffs against itself as unchanged and against the empty one
// without panicking.
func FuzzCapabilitiesManifest(f *testing.F) {
	for _, s := range []string{`{}`, `{"binary_version":"1.0","binary_checksum":"` + strings.Repeat("A", 43) + `="}`,
		`{"ssh_host_key_fingerprint":"SHA256:` + strings.Repeat("a", 43) + `"}`, `{"binary_checksum":"x"}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c nodeproto.Capabilities
		if json.Unmarshal(raw, &c) != nil {
			return
		}
		if err := checkManifest(c); err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
				t.Fatalf("%q: refused with %v, want a 400 problem", raw, err)
			}
			return
		}
		if changed, _ := manifestChanges(c, c); len(changed) != 0 {
			t.Fatalf("%q: a manifest differs from itself in %v", raw, changed)
		}
		manifestChanges(nodeproto.Capabilities{}, c)
	})
}
