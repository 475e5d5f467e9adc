package nodeproto

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzFormats runs the format rules over untrusted strings. None may panic,
// and the rules must agree with each other and with the standard library.
func FuzzFormats(f *testing.F) {
	for _, s := range []string{kA, "10.100.0.7", "[2001:db8::1]:443", "app.internal:8443", "2", "Bearer x",
		"psb_dev_abc", nsk, "a..b", "999.1.1.1:80", "[fe80::1%eth0]:1", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseKey32(s); err == nil {
			if base64.StdEncoding.EncodeToString(k[:]) != s {
				t.Fatalf("Key32 %q is not canonical", s)
			}
		} else if ValidWireGuardKey(s) {
			t.Fatalf("%q: WireGuard key but not Key32", s)
		}
		if ValidIPPort(s) && !ValidHostPort(s) {
			t.Fatalf("%q: ip:port but not host:port", s)
		}
		if ValidPeerEndpoint(s) && s != "" && !ValidHostPort(s) {
			t.Fatalf("%q: peer endpoint but not host:port", s)
		}
		if ValidHostPort(s) {
			h, p, err := net.SplitHostPort(s)
			n, perr := strconv.Atoi(p)
			if err != nil || h == "" || perr != nil || n < 1 || n > 65535 {
				t.Fatalf("%q accepted as host:port", s)
			}
		}
		if ValidMeshIP(s) && net.ParseIP(s).To4() == nil {
			t.Fatalf("%q accepted as mesh IP", s)
		}
		if ValidDataKey(s) && (!ValidID(s) || !ValidReportKey(s)) {
			t.Fatalf("%q: data key but not ID or report key", s)
		}
		if ValidID(s) && strings.ContainsAny(s, `/\%`) {
			t.Fatalf("%q accepted as ID", s)
		}
		if ValidNSK(s) && !ValidBootstrapToken(s) {
			t.Fatalf("%q: an NSK is printable ASCII, so a well-formed token string", s)
		}
		if l := ParseLevel(s); l < Level1 || l > maxParsedLevel {
			t.Fatalf("ParseLevel(%q) = %d", s, l)
		}
		if c, ok := ParseBearer(s); ok && (c == "" || c[0] == ' ') {
			t.Fatalf("ParseBearer(%q) = %q", s, c)
		}
	})
}

// FuzzStateValidate decodes arbitrary state documents; Validate must not
// panic, and a document it accepts must re-encode to one it accepts.
func FuzzStateValidate(f *testing.F) {
	f.Add([]byte(fullStateJSON))
	f.Add([]byte(`{"peers":[],"policies":[],"data":[],"secret_refs":[]}`))
	f.Add([]byte(`{"signing_keys":{"current":""},"peers":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var s StateResponse
		if json.Unmarshal(doc, &s) != nil {
			return
		}
		if s.Validate(stateNow) != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("valid state does not encode: %v", err)
		}
		var back StateResponse
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if err := back.Validate(stateNow); err != nil {
			t.Fatalf("re-encoded valid state rejected: %v\n%s", err, out)
		}
	})
}
