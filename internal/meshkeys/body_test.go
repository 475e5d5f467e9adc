package meshkeys

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

var goodKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func codeOf(err error) (int, string) {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p.Status, p.Code
	}
	return 0, ""
}

func TestDecodeRotateBody(t *testing.T) {
	for _, c := range []struct {
		name, body string
		status     int
		code       string
		nodeID     string
	}{
		{"agent form", `{"node_id":"n1","new_public_key":"` + goodKey + `"}`, 0, "", "n1"},
		{"contract form", `{"new_public_key":"` + goodKey + `"}`, 0, "", ""},
		{"unknown members ignored", ` {"new_public_key":"` + goodKey + `","x":[1]} `, 0, "", ""},
		{"empty", ``, 400, "invalid_request", ""},
		{"array", `[]`, 400, "invalid_request", ""},
		{"trailing garbage", `{"new_public_key":"` + goodKey + `"} x`, 400, "invalid_request", ""},
		{"number key", `{"new_public_key":5}`, 400, "invalid_request", ""},
		{"missing key", `{"node_id":"n1"}`, 400, CodePublicKeyInvalid, ""},
		{"url base64", `{"new_public_key":"` + strings.ReplaceAll(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "=", "") + `"}`, 400, CodePublicKeyInvalid, ""},
		{"31 bytes", `{"new_public_key":"` + base64.StdEncoding.EncodeToString(make([]byte, 31)) + `"}`, 400, CodePublicKeyInvalid, ""},
		{"all zero", `{"new_public_key":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}`, 400, CodePublicKeyInvalid, ""},
		{"over 4 KiB", `{"new_public_key":"` + goodKey + `","p":"` + strings.Repeat("x", MaxRotateBody) + `"}`, 413, codeBodyTooLarge, ""},
	} {
		req, err := DecodeRotateBody([]byte(c.body))
		st, code := codeOf(err)
		if st != c.status || code != c.code || (err == nil && (req.NewPublicKey != goodKey || req.NodeID != c.nodeID)) {
			t.Errorf("%s: %+v %v, want %d %s", c.name, req, err, c.status, c.code)
		}
	}
}

func TestReadBodyGzip(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	body := []byte(`{"new_public_key":"` + goodKey + `"}`)
	if got, err := readBody("gzip", gz(body)); err != nil || !bytes.Equal(got, body) {
		t.Errorf("gzip: %q %v", got, err)
	}
	// A small bomb: 1 MiB of zeros inflates past the ceiling.
	if _, err := readBody("gzip", gz(make([]byte, 1<<20))); func() int { s, _ := codeOf(err); return s }() != 413 {
		t.Errorf("gzip bomb: %v, want 413", err)
	}
	if _, err := readBody("gzip", body); func() int { s, _ := codeOf(err); return s }() != 400 {
		t.Errorf("not gzip: %v, want 400", err)
	}
	if _, err := readBody("br", body); func() int { s, _ := codeOf(err); return s }() != 415 {
		t.Errorf("brotli: %v, want 415", err)
	}
}

// FuzzDecodeRotateBody: any body either decodes to a valid WireGuard key or
// is refused with a 4xx problem; it never panics.
func FuzzDecodeRotateBody(f *testing.F) {
	f.Add([]byte(`{"node_id":"n1","new_public_key":"` + goodKey + `"}`))
	f.Add([]byte(`{"new_public_key":"` + goodKey + `"}`))
	f.Add([]byte(`{"new_public_key":null}`))
	f.Add([]byte(`{"node_id":{"a":1}}`))
	f.Add([]byte(` [`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := DecodeRotateBody(raw)
		if err == nil {
			if !nodeproto.ValidWireGuardKey(req.NewPublicKey) {
				t.Fatalf("accepted key %q", req.NewPublicKey)
			}
			return
		}
		if st, _ := codeOf(err); st < 400 || st > 499 {
			t.Fatalf("refusal %v is not a 4xx problem", err)
		}
	})
}
