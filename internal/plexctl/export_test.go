package plexctl

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// serveExport answers the domain export from entries, honouring from_seq;
// cut, when > 0, makes the server stop after that many lines.
func serveExport(h *harness, entries []apiv1.AuditEntry, cut int) {
	h.srv.Handle("GET /v1/domains/{id}/audit/entries:export", func(w http.ResponseWriter, r *http.Request) {
		from := int64(1)
		if v := r.URL.Query().Get("from_seq"); v != "" {
			from, _ = strconv.ParseInt(v, 10, 64)
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		var sel []apiv1.AuditEntry
		for _, e := range entries {
			if e.Seq >= from {
				sel = append(sel, e)
			}
		}
		if cut > 0 && len(sel) > cut {
			sel = sel[:cut]
		}
		_, _ = io.WriteString(w, ndjson(sel))
	})
}

func TestExportToStdout(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(5)
	serveExport(h, entries, 0)
	r := h.ok("audit", "export", "--domain", dID, "--progress-every", "2")
	if r.stdout != ndjson(entries) {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, ndjson(entries))
	}
	if p := h.srv.Last().Pattern(); p != "GET /v1/domains/"+dID+"/audit/entries:export" {
		t.Errorf("request %q", p)
	}
	wantErr := "Exported 2 entries (through seq 2).\nExported 4 entries (through seq 4).\nExported 5 entries (seq 1..5) to stdout.\n"
	if r.stderr != wantErr {
		t.Errorf("stderr %q\nwant   %q", r.stderr, wantErr)
	}
}

func TestExportFromSeqToNewFile(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(5)
	serveExport(h, entries, 0)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	h.ok("audit", "export", "--domain", dID, "--file", file, "--from-seq", "3")
	if got := readFile(t, file); got != ndjson(entries[2:]) {
		t.Errorf("file:\n%s", got)
	}
	if q := h.srv.Last().Query.Get("from_seq"); q != "3" {
		t.Errorf("from_seq = %q", q)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", st.Mode().Perm())
	}
	r := h.run("audit", "export", "--domain", dID, "--file", file)
	if r.code != ExitError || !strings.Contains(r.stderr, "--resume") {
		t.Errorf("existing file: exit %d, %q", r.code, r.stderr)
	}
	h.ok("audit", "export", "--domain", dID, "--file", file, "--force")
	if got := readFile(t, file); got != ndjson(entries) {
		t.Errorf("--force did not overwrite:\n%s", got)
	}
}

// TestExportResume: an interrupted export (the server stopped early, and a
// crash left half a line) is continued to the end with no gap or dupe.
func TestExportResume(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(7)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	partial := ndjson(entries[:3]) + `{"seq":4,"domain_id":"0190`
	if err := os.WriteFile(file, []byte(partial), 0o600); err != nil {
		t.Fatal(err)
	}
	serveExport(h, entries, 2)
	r := h.ok("audit", "export", "--domain", dID, "--file", file, "--resume")
	if !strings.Contains(r.stderr, "Dropped an incomplete last line") {
		t.Errorf("stderr %q", r.stderr)
	}
	if q := h.srv.Last().Query.Get("from_seq"); q != "4" {
		t.Errorf("first resume asked from_seq=%q, want 4", q)
	}
	h.ok("audit", "export", "--domain", dID, "--file", file, "--resume")
	if q := h.srv.Last().Query.Get("from_seq"); q != "6" {
		t.Errorf("second resume asked from_seq=%q, want 6", q)
	}
	r = h.ok("audit", "export", "--domain", dID, "--file", file, "--resume")
	if got := readFile(t, file); got != ndjson(entries) {
		t.Errorf("file after resumes:\n%s\nwant:\n%s", got, ndjson(entries))
	}
	if !strings.Contains(r.stderr, "No entries from seq 8") {
		t.Errorf("final resume stderr %q", r.stderr)
	}
}

func TestExportResumeMissingFileStartsAtOne(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(2)
	serveExport(h, entries, 0)
	file := filepath.Join(t.TempDir(), "new.jsonl")
	h.ok("audit", "export", "--domain", dID, "--file", file, "--resume")
	if got := readFile(t, file); got != ndjson(entries) {
		t.Errorf("file:\n%s", got)
	}
	if q := h.srv.Last().Query.Get("from_seq"); q != "" {
		t.Errorf("from_seq = %q, want unset", q)
	}
}

func TestExportDetectsBrokenChain(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(4)
	entries[2].PrevHash = strings.Repeat("0", 64)
	serveExport(h, entries, 0)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	r := h.run("audit", "export", "--domain", dID, "--file", file)
	if r.code != ExitError || !strings.Contains(r.stderr, "chain broken at seq 3") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := readFile(t, file); got != ndjson(entries[:2]) {
		t.Errorf("file should hold the entries before the break:\n%s", got)
	}
}

func TestExportResumeChecksTheBoundary(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(4)
	other, _ := auditChain(2)
	other[1].EntryHash = strings.Repeat("f", 64) // the file's seq 2 is not the server's
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(file, []byte(ndjson(other)), 0o600); err != nil {
		t.Fatal(err)
	}
	serveExport(h, entries, 0)
	r := h.run("audit", "export", "--domain", dID, "--file", file, "--resume")
	if r.code != ExitError || !strings.Contains(r.stderr, "chain broken at seq 3") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestExportSeqGap(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(4)
	serveExport(h, append(entries[:1:1], entries[2:]...), 0)
	r := h.run("audit", "export", "--domain", dID)
	if r.code != ExitError || !strings.Contains(r.stderr, "expected seq 2, the server sent seq 3") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestExportResumeRefusesForeignFile(t *testing.T) {
	h := newHarness(t)
	for _, content := range []string{"hello world", "not json\n", `{"seq":0}` + "\n"} {
		file := filepath.Join(t.TempDir(), "x")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		r := h.run("audit", "export", "--domain", dID, "--file", file, "--resume")
		if r.code != ExitError || !strings.Contains(r.stderr, "cannot resume") {
			t.Errorf("%q: exit %d, stderr %q", content, r.code, r.stderr)
		}
		if got := readFile(t, file); got != content {
			t.Errorf("%q: file was changed to %q", content, got)
		}
	}
	if n := len(h.srv.Requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestExportErrorKeepsCompleteLines(t *testing.T) {
	h := newHarness(t)
	h.srv.Problem("GET /v1/platform/audit/entries:export", apiv1.Problem{Status: 403, Code: "permission_denied", Title: "Forbidden"})
	r := h.run("audit", "export", "--platform")
	if r.code != ExitError || !strings.Contains(r.stderr, "(code permission_denied)") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestLastLine(t *testing.T) {
	long := strings.Repeat("x", lastLineChunk+10)
	cases := []struct {
		in, line string
		keep     int
	}{
		{"", "", 0},
		{"a\n", "a", 2},
		{"a\nb\n", "b", 4},
		{"a\nb\npart", "b", 4},
		{"a\nb\n\n  \n", "b", 8},
		{"\n\n", "", 2},
		{"nonl", "", 0},
		{"a\n" + long + "\ntail", long, len(long) + 3},
	}
	for _, tc := range cases {
		line, keep, err := lastLine(bytes.NewReader([]byte(tc.in)), int64(len(tc.in)))
		if err != nil || string(line) != tc.line || keep != int64(tc.keep) {
			t.Errorf("lastLine(%.20q) = %.20q, %d, %v; want %.20q, %d", tc.in, line, keep, err, tc.line, tc.keep)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
