package nat

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/problem"
)

func codeOf(err error) string {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p.Code
	}
	return ""
}

func TestDecodeReport(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r, err := DecodeReport([]byte(`{"endpoint":"[2001:db8::1]:51820","public_endpoint":"[2001:db8:0::1]:51820",
		"nat_type":"restricted","reported_at":"2026-05-01T12:00:30Z","candidates":["10.0.0.2:51820","[2001:db8::1]:51820"]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Endpoint != "[2001:db8::1]:51820" || r.NATType != "restricted" || !r.ReportedAt.Equal(now.Add(30*time.Second)) ||
		len(r.Candidates) != 1 || r.Candidates[0] != "10.0.0.2:51820" {
		t.Errorf("decoded %+v", r)
	}
	r, err = DecodeReport([]byte(`{"public_endpoint":"::ffff:192.0.2.1:9"}`), now)
	if err == nil {
		t.Errorf("no nat_type accepted: %+v", r)
	}
	for body, code := range map[string]string{
		`{"endpoint":"0.0.0.0:1","nat_type":"none"}`:                                        codeUnparseable,
		`{"endpoint":"224.0.0.1:1","nat_type":"none"}`:                                      codeUnparseable,
		`{"endpoint":"[fe80::1%eth0]:1","nat_type":"none"}`:                                 codeUnparseable,
		`{"endpoint":"192.0.2.1:0","nat_type":"none"}`:                                      codeUnparseable,
		`{"endpoint":"192.0.2.1:1","nat_type":"none","candidates":[1]}`:                     "invalid_request",
		`{"endpoint":"192.0.2.1:1","nat_type":"none","candidates":["127.0.0.1:5"]}`:         codeUnparseable,
		`{"endpoint":"192.0.2.1:1","nat_type":"none","reported_at":"2026-05-01T11:58:00Z"}`: codeClockSkew,
		`{"endpoint":"192.0.2.1:1","nat_type":"none","reported_at":"yesterday"}`:            "invalid_request",
	} {
		if _, err := DecodeReport([]byte(body), now); codeOf(err) != code {
			t.Errorf("%s: %v, want %s", body, err, code)
		}
	}
	many, _ := json.Marshal(map[string]any{"endpoint": "192.0.2.1:1", "nat_type": "none",
		"candidates": strings.Split(strings.Repeat("192.0.2.2:1,", 17), ",")[:17]})
	if _, err := DecodeReport(many, now); err == nil {
		t.Error("17 candidates accepted")
	}
	if _, err := DecodeReport([]byte(`{"x":"`+strings.Repeat("a", EndpointBodyLimit)+`"}`), now); codeOf(err) != codeBodyTooLarge {
		t.Errorf("oversized: %v", err)
	}
}

func TestNeedsRelay(t *testing.T) {
	ep := func(nat string) *endpointRow { return &endpointRow{endpoint: "192.0.2.1:1", natType: nat} }
	cases := []struct {
		a, b   *endpointRow
		failed bool
		want   bool
	}{
		{ep(natSymmetric), ep(natFullCone), false, true},
		{ep(natSymmetric), ep(natPortRestricted), false, true},
		{ep(natSymmetric), ep(natNone), false, true},
		{ep(natNone), ep(natSymmetric), false, true},
		{ep(natNone), ep(natFullCone), false, false},
		{ep(natFullCone), ep(natFullCone), false, false},
		{ep(natFullCone), ep(natFullCone), true, true},
		{ep(natSymmetric), nil, false, false},
		{&endpointRow{endpoint: "192.0.2.1:1", natType: natSymmetric, tombstoned: true}, ep(natFullCone), false, false},
	}
	for i, c := range cases {
		if got := needsRelay(c.a, c.b, c.failed); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func TestRelayAddress(t *testing.T) {
	if a, ok := relayAddress("203.0.113.1:51820", "", false, 51821); !ok || a != "203.0.113.1:51821" {
		t.Errorf("from endpoint: %q %v", a, ok)
	}
	if a, ok := relayAddress("203.0.113.1:51820", "198.51.100.7", true, 51821); !ok || a != "198.51.100.7:51821" {
		t.Errorf("tombstoned endpoint falls back to the observed address: %q %v", a, ok)
	}
	if _, ok := relayAddress("", "127.0.0.1", false, 51821); ok {
		t.Error("loopback relay address accepted")
	}
	if _, ok := relayAddress("203.0.113.1:51820", "", false, 0); ok {
		t.Error("port 0 accepted")
	}
}

// FuzzDecodeReport feeds arbitrary bodies to the endpoint report decoder:
// it must not panic, and what it accepts is canonical and bounded.
func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"public_endpoint":"198.51.100.1:51820","nat_type":"full_cone"}`))
	f.Add([]byte(`{"endpoint":"[2001:db8::1]:1","nat_type":"symmetric","reported_at":"2026-05-01T12:00:00Z","candidates":["10.0.0.1:2"]}`))
	f.Add([]byte(`{"endpoint":"1.2.3.4:5","public_endpoint":"1.2.3.4:5","nat_type":"none","candidates":null}`))
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReport(b, now)
		if err != nil {
			if codeOf(err) == "" {
				t.Fatalf("error without a problem code: %v", err)
			}
			return
		}
		if ep, ok := canonicalEndpoint(r.Endpoint); !ok || ep != r.Endpoint {
			t.Fatalf("accepted endpoint %q is not canonical", r.Endpoint)
		}
		if len(r.Candidates) > MaxCandidates {
			t.Fatalf("%d candidates", len(r.Candidates))
		}
		for _, c := range r.Candidates {
			if c == r.Endpoint {
				t.Fatal("candidate repeats the endpoint")
			}
		}
	})
}
