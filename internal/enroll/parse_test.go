package enroll

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestTokenRoundTrip(t *testing.T) {
	pid := uuid.Must(uuid.NewV7()).String()
	plain, lookup := newToken("prod", pid, "bridge")
	pt, ok := parseToken(plain)
	if !ok || pt.projectID != pid || pt.kind != "bridge" || pt.lookup != lookup || len(lookup) != lookupLen {
		t.Fatalf("parse %q: %+v %v", plain, pt, ok)
	}
	again, lookup2 := newToken("prod", pid, "bridge")
	if again == plain || lookup2 == lookup {
		t.Fatal("two tokens collide")
	}
	for _, bad := range []string{"", "psb_", "psk_prod_" + plain[9:], strings.Replace(plain, "bridge", "vm", 1),
		plain[:len(plain)-30], strings.Replace(plain, "_prod_", "__", 1), plain + "_x"} {
		if _, ok := parseToken(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestFirstFree(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/29")
	used := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true, netip.MustParseAddr("10.0.0.2"): true}
	excl := []netip.Prefix{netip.MustParsePrefix("10.0.0.3/32"), netip.MustParsePrefix("10.0.0.4/31")}
	if a, ok := firstFree(p, used, excl); !ok || a.String() != "10.0.0.6" {
		t.Fatalf("got %v %v, want 10.0.0.6", a, ok)
	}
	used[netip.MustParseAddr("10.0.0.6")] = true
	if a, ok := firstFree(p, used, excl); ok {
		t.Fatalf("the broadcast address was handed out: %v", a)
	}
	if a, ok := firstFree(netip.MustParsePrefix("10.9.9.9/32"), nil, nil); !ok || a.String() != "10.9.9.9" {
		t.Fatalf("/32: %v %v", a, ok)
	}
	if a, ok := firstFree(netip.MustParsePrefix("10.9.9.8/31"), nil, nil); !ok || a.String() != "10.9.9.8" {
		t.Fatalf("/31: %v %v", a, ok)
	}
	if got := lastAddr(netip.MustParsePrefix("100.64.0.0/10")); got.String() != "100.127.255.255" {
		t.Fatalf("lastAddr: %v", got)
	}
}

func TestDecodeRegisterGzipBound(t *testing.T) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(`{"token":"` + strings.Repeat("a", maxInflated) + `"}`))
	zw.Close()
	if _, err := decodeRegister("gzip", b.Bytes()); err == nil || !strings.Contains(err.Error(), "request_body_too_large") {
		t.Fatalf("a gzip bomb was inflated: %v", err)
	}
	if _, err := decodeRegister("br", []byte(`{}`)); err == nil {
		t.Fatal("an unknown encoding was accepted")
	}
	r, err := decodeRegister("", []byte(` {"token":"t","public_key":"k","unknown":[1],"metadata":null} `))
	if err != nil || r.Token != "t" {
		t.Fatalf("lenient decoding: %+v %v", r, err)
	}
}

// FuzzParseToken feeds arbitrary presented tokens to the parser: it never
// panics, and whatever it accepts names a project UUID, a kind and a lookup
// id of the right length.
func FuzzParseToken(f *testing.F) {
	plain, _ := newToken("dev", uuid.Must(uuid.NewV7()).String(), "node")
	f.Add(plain)
	f.Add("psb_x_y_node_z")
	f.Fuzz(func(t *testing.T, s string) {
		pt, ok := parseToken(s)
		if !ok {
			return
		}
		if _, err := uuid.Parse(pt.projectID); err != nil || (pt.kind != "node" && pt.kind != "bridge") || len(pt.lookup) != lookupLen {
			t.Fatalf("accepted %q as %+v", s, pt)
		}
	})
}

// FuzzDecodeRegister feeds arbitrary bodies (identity and gzip): the decoder
// never panics and accepts only JSON objects.
func FuzzDecodeRegister(f *testing.F) {
	f.Add([]byte(`{"token":"a","public_key":"b"}`), false)
	f.Add([]byte(`[]`), false)
	f.Add([]byte{0x1f, 0x8b, 0, 0}, true)
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		enc := ""
		if gz {
			enc = "gzip"
		}
		if _, err := decodeRegister(enc, body); err == nil && !gz && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			t.Fatalf("accepted a non-object %q", body)
		}
	})
}
