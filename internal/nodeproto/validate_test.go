package nodeproto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFormatPredicates(t *testing.T) {
	type tc struct {
		in   string
		want bool
	}
	cases := map[string]struct {
		fn    func(string) bool
		cases []tc
	}{
		"ValidID": {ValidID, []tc{
			{"n1", true}, {"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true}, {"a.b_c-D", true},
			{strings.Repeat("a", 128), true}, {"..a", true},
			{"", false}, {".", false}, {"..", false}, {strings.Repeat("a", 129), false},
			{"a/b", false}, {"a b", false}, {"a%2Fb", false}, {"ü", false},
		}},
		"ValidDataKey (S4)": {ValidDataKey, []tc{
			{"app.conf", true}, {".hidden", true},
			{"a..b", false}, {"..", false}, {".", false}, {"a/b", false}, {"", false},
		}},
		"ValidReportKey (§12.8)": {ValidReportKey, []tc{
			{"inventory", true}, {"with space", true}, {"a..b", true},
			{"", false}, {".", false}, {"..", false}, {"a/b", false}, {`a\b`, false},
		}},
		"ValidEventType": {ValidEventType, []tc{
			{"peer_added", true}, {"x1", true},
			{"", false}, {"Peer_added", false}, {"peer-added", false}, {"peer added", false},
		}},
		"ValidKey32": {ValidKey32, []tc{
			{kA, true}, {kB, true}, {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
			{"", false}, {kA[:43], false}, {kA + "=", false},
			{"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=", false}, // base64url alphabet
			{"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=", false}, // non-zero trailing bits
			{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", false}, // 31 bytes
			{"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH\nRo=", false},
		}},
		"ValidWireGuardKey": {ValidWireGuardKey, []tc{
			{kB, true}, {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", false}, {"x", false},
		}},
		"ValidNSK (§3.2)": {ValidNSK, []tc{
			{nsk, true}, {strings.Repeat("~", 32), true}, {strings.Repeat("!", 32), true},
			{nsk[:31], false}, {nsk + "A", false}, {strings.Repeat("A", 31) + " ", false},
			{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", false}, // 44-char base64 of 32 bytes is WRONG
			{strings.Repeat("A", 31) + "\x7f", false}, {strings.Repeat("A", 30) + "ü", false},
		}},
		"ValidBootstrapToken (§3.1)": {ValidBootstrapToken, []tc{
			{"psb_dev_abc", true}, {"a b", true}, {strings.Repeat("x", 512), true}, {"~", true},
			{"", false}, {" a", false}, {"a ", false}, {strings.Repeat("x", 513), false},
			{"a\tb", false}, {"a\nb", false}, {"tökén", false},
		}},
		"ValidMeshIP": {ValidMeshIP, []tc{
			{"10.100.0.7", true},
			{"10.100.0.7/32", false}, {"::1", false}, {"010.100.0.7", false}, {"0.0.0.0", false},
			{"::ffff:10.0.0.1", false}, {"", false}, {" 10.0.0.1", false},
		}},
		"ValidCIDR": {ValidCIDR, []tc{
			{"10.100.0.7/32", true}, {"2001:db8::/32", true}, {"10.0.0.1/24", true},
			{"10.0.0.1", false}, {"10.0.0.0/33", false}, {"fe80::1%eth0/64", false}, {"", false},
		}},
		"ValidHostPort": {ValidHostPort, []tc{
			{"127.0.0.1:22", true}, {"app.internal:8443", true}, {"[2001:db8::1]:443", true},
			{"localhost:80", true}, {"a_b.example:1", true}, {"x:65535", true},
			{"host", false}, {"host:", false}, {":80", false}, {"host:0", false}, {"host:65536", false},
			{"host:080", false}, {"host:+80", false}, {"2001:db8::1:443", false}, {"[10.0.0.1]:80", false},
			{"[fe80::1%eth0]:80", false}, {"999.1.1.1:80", false}, {"-a.example:80", false},
			{"a..b:80", false}, {"[example.com]:80", false}, {"h st:80", false},
		}},
		"ValidIPPort": {ValidIPPort, []tc{
			{"198.51.100.2:51820", true}, {"[2001:db8::3]:40001", true},
			{"example.com:80", false}, {"0.0.0.0:80", false}, {"[::]:80", false}, {"1.2.3.4:0", false},
		}},
		"ValidPeerEndpoint": {ValidPeerEndpoint, []tc{
			{"", true}, {"198.51.100.2:51820", true}, {"peer.example.net:51820", true},
			{"127.0.0.1:51820", false}, {"[::1]:51820", false}, {"localhost:51820", false},
			{"0.0.0.0:1", false}, {"198.51.100.2", false},
		}},
		"ValidInterfaceName": {ValidInterfaceName, []tc{
			{"wg-access", true}, {"s2s_0", true}, {strings.Repeat("a", 15), true},
			{"", false}, {strings.Repeat("a", 16), false}, {"wg.0", false}, {"wg 0", false},
		}},
		"ValidChecksum": {ValidChecksum, []tc{
			{sum, true}, {strings.ToUpper(sum), false}, {"sha256:" + sum, false}, {sum[:63], false},
		}},
		"ValidDuration": {ValidDuration, []tc{
			{"1.234s", true}, {"10m", true}, {"1h30m", true}, {"", false}, {"10", false}, {"1d", false},
		}},
	}
	for name, c := range cases {
		for _, x := range c.cases {
			if got := c.fn(x.in); got != x.want {
				t.Errorf("%s(%q) = %v, want %v", name, x.in, got, x.want)
			}
		}
	}
}

func TestValidWireTime(t *testing.T) {
	utc := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if !ValidWireTime(utc) || !ValidWireTime(utc.In(time.FixedZone("", 0))) {
		t.Error("UTC time rejected")
	}
	if ValidWireTime(utc.In(time.FixedZone("", 3600))) {
		t.Error("non-UTC time accepted (emitters MUST use UTC)")
	}
	if ValidWireTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("year 10000 accepted")
	}
}

func TestParseLevel(t *testing.T) {
	cases := map[string]int{
		"": 1, "1": 1, "2": 2, " 2 ": 2, "17": 17, "0": 1, "-2": 1, "+2": 1, "2.0": 1,
		"2a": 1, "two": 1, "1 2": 1, "99999999999999999999999": maxParsedLevel, "02": 2,
	}
	for in, want := range cases {
		if got := ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %d, want %d", in, got, want)
		}
	}
	if got := NegotiateLevel(ParseLevel("7"), MaxLevel); got != MaxLevel {
		t.Errorf("NegotiateLevel(7, M) = %d, want %d", got, MaxLevel)
	}
	if got := NegotiateLevel(Level1, MaxLevel); got != Level1 {
		t.Errorf("NegotiateLevel(1, M) = %d", got)
	}
	if got := NegotiateLevel(0, MaxLevel); got != Level1 {
		t.Errorf("NegotiateLevel(0, M) = %d", got)
	}
}

func TestParseBearer(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc", "abc", true},
		{"Bearer a b", "a b", true}, // bootstrap tokens may hold inner spaces
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := ParseBearer(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRegisterCredential(t *testing.T) {
	cases := []struct {
		name   string
		req    RegisterRequest
		bearer string
		want   string
		err    error
	}{
		{"agent form", RegisterRequest{Token: "psb_a"}, "psb_a", "psb_a", nil},
		{"agent form, bearer differs", RegisterRequest{Token: "psb_a"}, "psb_b", "", ErrTokenMismatch},
		{"agent form, no bearer", RegisterRequest{Token: "psb_a"}, "", "", ErrTokenMismatch},
		{"contract form", RegisterRequest{BootstrapToken: "psb_a"}, "", "psb_a", nil},
		{"contract form with equal bearer", RegisterRequest{BootstrapToken: "psb_a"}, "psb_a", "psb_a", nil},
		{"contract form, bearer differs", RegisterRequest{BootstrapToken: "psb_a"}, "psb_b", "", ErrTokenMismatch},
		{"both forms differ", RegisterRequest{Token: "psb_a", BootstrapToken: "psb_b"}, "psb_a", "", ErrTokenMismatch},
		{"both forms agree", RegisterRequest{Token: "psb_a", BootstrapToken: "psb_a"}, "psb_a", "psb_a", nil},
		{"no token", RegisterRequest{}, "psb_a", "", ErrTokenMissing},
	}
	for _, c := range cases {
		got, err := c.req.Credential(c.bearer)
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, err, c.want, c.err)
		}
	}
	bad := RegisterRequest{Token: "t", PublicKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("all-zero public key accepted: %v", err)
	}
	good := RegisterRequest{Token: "t", PublicKey: kB}
	if err := good.Validate(); err != nil {
		t.Errorf("valid public key rejected: %v", err)
	}
}

func TestNewNSK(t *testing.T) {
	seen := map[string]bool{}
	for range 64 {
		s, err := NewNSK(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ValidNSK(s) || seen[s] {
			t.Fatalf("bad or repeated NSK %q", s)
		}
		seen[s] = true
	}
	fixed, err := NewNSK(bytes.NewReader(make([]byte, 24)))
	if err != nil || fixed != strings.Repeat("A", 32) {
		t.Fatalf("NewNSK(zeros) = %q, %v", fixed, err)
	}
	if _, err := NewNSK(bytes.NewReader(make([]byte, 23))); err == nil {
		t.Fatal("short entropy source accepted")
	}
}
