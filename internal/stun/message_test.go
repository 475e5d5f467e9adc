package stun

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	pion "github.com/pion/stun/v3"
)

func TestBindingRoundTrip(t *testing.T) {
	for _, from := range []string{"203.0.113.7:51820", "[2001:db8::5]:3478"} {
		req, id := NewBindingRequest()
		if !IsSTUN(req) {
			t.Fatalf("own request not recognised as STUN: %x", req)
		}
		resp, ok := Respond(req, netip.MustParseAddrPort(from))
		if !ok {
			t.Fatalf("%s: request not answered", from)
		}
		gotID, addr, err := ParseBindingResponse(resp)
		if err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		if gotID != id {
			t.Errorf("%s: txid %x, want %x", from, gotID, id)
		}
		if addr.String() != netip.MustParseAddrPort(from).String() {
			t.Errorf("mapped %s, want %s", addr, from)
		}
	}
}

func TestRequestsAreUnique(t *testing.T) {
	a, ida := NewBindingRequest()
	b, idb := NewBindingRequest()
	if ida == idb || bytes.Equal(a, b) {
		t.Fatal("two requests share a transaction id")
	}
}

func TestRespondDropsNonBinding(t *testing.T) {
	from := netip.MustParseAddrPort("198.51.100.1:1000")
	wgInit := append([]byte{1, 0, 0, 0}, make([]byte, 144)...)
	success := pion.MustBuild(pion.BindingSuccess, pion.TransactionID).Raw
	big := make([]byte, MaxMessageSize+4)
	copy(big, pion.MustBuild(pion.BindingRequest, pion.TransactionID).Raw)
	cases := map[string][]byte{
		"empty":          nil,
		"wireguard":      wgInit,
		"success answer": success,
		"oversized":      big,
		"truncated":      pion.MustBuild(pion.BindingRequest, pion.TransactionID, pion.Fingerprint).Raw[:24],
	}
	for name, b := range cases {
		if _, ok := Respond(b, from); ok {
			t.Errorf("%s: answered", name)
		}
	}
}

func TestRespondChecksFingerprint(t *testing.T) {
	req, _ := NewBindingRequest()
	req[len(req)-1] ^= 0xff
	if _, ok := Respond(req, netip.MustParseAddrPort("198.51.100.1:1000")); ok {
		t.Fatal("request with a broken fingerprint answered")
	}
}

func TestParseBindingResponseErrors(t *testing.T) {
	noAddr := pion.MustBuild(pion.BindingSuccess, pion.TransactionID).Raw
	if _, _, err := ParseBindingResponse(noAddr); !errors.Is(err, ErrNoMappedAddr) {
		t.Errorf("no address: %v", err)
	}
	req, _ := NewBindingRequest()
	if _, _, err := ParseBindingResponse(req); !errors.Is(err, ErrNotBinding) {
		t.Errorf("request as response: %v", err)
	}
	if _, _, err := ParseBindingResponse([]byte("hello")); !errors.Is(err, ErrNotSTUN) {
		t.Errorf("garbage: %v", err)
	}
	legacy := pion.MustBuild(pion.BindingSuccess, pion.TransactionID,
		&pion.MappedAddress{IP: netip.MustParseAddr("192.0.2.9").AsSlice(), Port: 4000}).Raw
	_, addr, err := ParseBindingResponse(legacy)
	if err != nil || addr.String() != "192.0.2.9:4000" {
		t.Errorf("legacy MAPPED-ADDRESS: %v %v", addr, err)
	}
	zeroPort := pion.MustBuild(pion.BindingSuccess, pion.TransactionID,
		&pion.XORMappedAddress{IP: netip.MustParseAddr("192.0.2.9").AsSlice(), Port: 0}).Raw
	if _, _, err := ParseBindingResponse(zeroPort); !errors.Is(err, ErrBadMappedAddr) {
		t.Errorf("port 0: %v", err)
	}
}

func TestIsSTUNShape(t *testing.T) {
	req, _ := NewBindingRequest()
	if IsSTUN(req[:len(req)-4]) {
		t.Error("length mismatch accepted")
	}
	bad := bytes.Clone(req)
	bad[0] |= 0x80
	if IsSTUN(bad) {
		t.Error("leading bits accepted")
	}
	bad = bytes.Clone(req)
	bad[5] ^= 1
	if IsSTUN(bad) {
		t.Error("wrong cookie accepted")
	}
}

// FuzzSTUNDecode feeds arbitrary datagrams to both decoder paths: neither
// may panic, and anything Respond answers must parse back to the sender.
func FuzzSTUNDecode(f *testing.F) {
	req, _ := NewBindingRequest()
	f.Add(req)
	resp, _ := Respond(req, netip.MustParseAddrPort("203.0.113.1:9"))
	f.Add(resp)
	f.Add([]byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	from := netip.MustParseAddrPort("198.51.100.20:40000")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = ParseBindingResponse(b)
		out, ok := Respond(b, from)
		if !ok {
			return
		}
		if len(out) > MaxMessageSize {
			t.Fatalf("response of %d bytes", len(out))
		}
		_, addr, err := ParseBindingResponse(out)
		if err != nil || addr != from {
			t.Fatalf("own response parses to %v, %v", addr, err)
		}
	})
}
