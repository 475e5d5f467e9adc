package apiclient

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func TestExportStreamsRecords(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	body := `{"seq":5,"action":"a.b","entry_hash":"h5","archive_etag":"e"}` + "\n\n" +
		`{"seq":6,"action":"c.d","entry_hash":"h6"}` + "\r\n"
	srv.Handle("GET /v1/domains/{id}/audit/entries:export", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = io.WriteString(w, body)
	})
	s, err := newTestClient(t, srv).ExportAudit(t.Context(), DomainChain("d1"), 5)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []AuditRecord
	for rec, err := range s.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	if len(got) != 2 || got[0].Entry.Seq != 5 || got[1].Entry.Action != "c.d" {
		t.Fatalf("records = %+v", got)
	}
	if string(got[0].Raw) != `{"seq":5,"action":"a.b","entry_hash":"h5","archive_etag":"e"}` {
		t.Errorf("raw line not preserved: %s", got[0].Raw)
	}
	if string(got[1].Raw) != `{"seq":6,"action":"c.d","entry_hash":"h6"}` {
		t.Errorf("raw line not trimmed: %q", got[1].Raw)
	}
	req := srv.Last()
	if req.Pattern() != "GET /v1/domains/d1/audit/entries:export?from_seq=5" {
		t.Errorf("request = %q", req.Pattern())
	}
	if a := req.Header.Get("Accept"); !strings.HasPrefix(a, "application/x-ndjson") {
		t.Errorf("Accept = %q", a)
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after end = %v, want io.EOF", err)
	}
}

func TestExportPlatformDefaultsFromSeq(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Status("GET /v1/platform/audit/entries:export", 200)
	s, err := newTestClient(t, srv).ExportAudit(t.Context(), PlatformChain(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next = %v", err)
	}
	if p := srv.Last().Pattern(); p != "GET /v1/platform/audit/entries:export" {
		t.Errorf("request = %q", p)
	}
}

func TestExportErrors(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Problem("GET /v1/domains/{id}/audit/entries:export", apiv1.Problem{Status: 403, Code: "permission_denied", Title: "Forbidden"})
	_, err := newTestClient(t, srv).ExportAudit(t.Context(), DomainChain("d1"), 1)
	if !IsCode(err, "permission_denied") {
		t.Fatalf("err = %v", err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"seq":1}` + "\n" + `not json` + "\n", "line 2"},
		{`{"action":"x"}` + "\n", "line 1: entry has no seq"},
	} {
		s := NewAuditStream(io.NopCloser(strings.NewReader(tc.in)))
		var err error
		for _, e := range s.All() {
			if e != nil {
				err = e
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestCheckProof(t *testing.T) {
	canonical := []byte(`{"action":"domain.create","seq":1}`)
	prev := make([]byte, 32)
	inner := sha256.Sum256(canonical)
	entry := sha256.Sum256(append(append([]byte{}, prev...), inner[:]...))
	good := apiv1.AuditProof{PrevHash: hex.EncodeToString(prev), EntryHash: hex.EncodeToString(entry[:]), CanonicalBytes: canonical}
	if err := CheckProof(good); err != nil {
		t.Fatalf("valid proof: %v", err)
	}
	tampered := good
	tampered.CanonicalBytes = []byte(`{"action":"domain.delete","seq":1}`)
	if err := CheckProof(tampered); !errors.Is(err, ErrProofMismatch) {
		t.Errorf("tampered proof: %v", err)
	}
	bad := good
	bad.PrevHash = "zz"
	if err := CheckProof(bad); err == nil || errors.Is(err, ErrProofMismatch) {
		t.Errorf("malformed proof: %v", err)
	}
}
