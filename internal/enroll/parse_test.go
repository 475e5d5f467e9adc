package enroll

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
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

// FuzzParseRegister fuzzes the whole untrusted-body path of a registration
// (issue 7 row 4 and the fuzzing item): gzip inflation under the
// 64 KiB ceiling, lenient decoding, public-key validation and the choice of
// credential against the bearer. It never panics, fails only with a 4xx
// problem, and whatever it accepts has a valid public key and a credential
// equal to the bearer when one came.
func FuzzParseRegister(f *testing.F) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	const key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	agent := `{"token":"psb_t","public_key":"` + key + `","hostname":"h","metadata":{"a":"b"}}`
	contract := `{"bootstrap_token":"psb_t","project_id":"p","public_key":"` + key + `","nonce":"n"}`
	f.Add([]byte(agent), false, "psb_t")
	f.Add([]byte(contract), false, "")
	f.Add(gz(agent), true, "psb_t")
	f.Add(gz(contract), true, "other")
	f.Add(gz(`{"token":"`+strings.Repeat("a", maxInflated)+`"}`), true, "")
	f.Add([]byte(`[]`), false, "")
	f.Add([]byte{0x1f, 0x8b, 0, 0}, true, "x")
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool, bearer string) {
		enc := ""
		if gzipped {
			enc = "gzip"
		}
		req, plain, err := parseRegister(enc, body, bearer)
		if err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) || p.Status < 400 || p.Status > 499 {
				t.Fatalf("not a 4xx problem: %v", err)
			}
			return
		}
		if !nodeproto.ValidWireGuardKey(req.PublicKey) || plain == "" || (bearer != "" && plain != bearer) {
			t.Fatalf("accepted %+v with credential %q for bearer %q", req, plain, bearer)
		}
		if !gzipped && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			t.Fatalf("accepted a non-object %q", body)
		}
	})
}
