package plexctl

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func TestDomainsListFormats(t *testing.T) {
	h := newHarness(t)
	apiclienttest.Pages(h.srv, "GET /v1/domains", 2, testDomains)
	golden(t, "domains-list.table", h.ok("domains", "list").stdout)
	golden(t, "domains-list.json", h.ok("domains", "list", "-o", "json").stdout)
	golden(t, "domains-list.yaml", h.ok("domains", "list", "-o", "yaml").stdout)
}

func TestTableEscapesControlCharacters(t *testing.T) {
	h := newHarness(t)
	apiclienttest.Pages(h.srv, "GET /v1/domains", 10, testDomains)
	out := h.ok("domains", "list").stdout
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("a terminal escape from the server reached the table:\n%q", out)
	}
	if !strings.Contains(out, `Zeta \x1b[31mred`) {
		t.Errorf("escaped name missing:\n%s", out)
	}
}

func TestJSONListRoundTrips(t *testing.T) {
	h := newHarness(t)
	apiclienttest.Pages(h.srv, "GET /v1/domains", 2, testDomains)
	var got apiv1.List[apiv1.Domain]
	if err := json.Unmarshal([]byte(h.ok("-o", "json", "domains", "list").stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 3 || got.NextCursor != "" || !got.Items[0].CreatedAt.Equal(testDomains[0].CreatedAt) {
		t.Errorf("list = %+v", got)
	}
}

func TestTokensListJSON(t *testing.T) {
	h := newHarness(t)
	// Issue 8: the server answers the contract's bare array.
	h.srv.JSON("GET /v1/auth/tokens", 200, testTokens)
	golden(t, "tokens-list.json", h.ok("tokens", "list", "-o", "json").stdout)
	golden(t, "tokens-list.table", h.ok("tokens", "list").stdout)
}

func TestEmptyListTable(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("GET /v1/domains", 200, apiv1.List[apiv1.Domain]{EmptyReason: "no_rebac_membership"})
	r := h.ok("domains", "list")
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "ID ") {
		t.Errorf("stdout = %q, want the header only", r.stdout)
	}
	if !strings.Contains(r.stderr, "no_rebac_membership") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if r := h.ok("domains", "list", "-o", "json"); !strings.Contains(r.stdout, `"items": []`) ||
		!strings.Contains(r.stdout, `"empty_reason": "no_rebac_membership"`) {
		t.Errorf("json = %s", r.stdout)
	}
}

func TestListPagesThroughEverything(t *testing.T) {
	h := newHarness(t)
	apiclienttest.Pages(h.srv, "GET /v1/domains", 1, testDomains)
	r := h.ok("domains", "list")
	if n := strings.Count(r.stdout, "\n"); n != 4 {
		t.Errorf("%d lines, want header + 3:\n%s", n, r.stdout)
	}
	if n := len(h.srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestListOnePage(t *testing.T) {
	h := newHarness(t)
	apiclienttest.Pages(h.srv, "GET /v1/domains", 2, testDomains)
	r := h.ok("domains", "list", "--limit", "2")
	if len(h.srv.Requests()) != 1 || h.srv.Last().Pattern() != "GET /v1/domains?limit=2" {
		t.Errorf("requests = %+v", h.srv.Requests())
	}
	if !strings.Contains(r.stderr, "--cursor c1") {
		t.Errorf("stderr = %q, want the next cursor", r.stderr)
	}
	r = h.ok("domains", "list", "--cursor", "c1", "-o", "json")
	if h.srv.Last().Pattern() != "GET /v1/domains?cursor=c1" || !strings.Contains(r.stdout, testDomains[2].ID) {
		t.Errorf("second page: %s %s", h.srv.Last().Pattern(), r.stdout)
	}
	r = h.ok("domains", "list", "--limit", "2", "-o", "json")
	if !strings.Contains(r.stdout, `"next_cursor": "c1"`) {
		t.Errorf("json page lacks next_cursor:\n%s", r.stdout)
	}
}

func TestAuditGetTable(t *testing.T) {
	h := newHarness(t)
	entries, canon := auditChain(3)
	h.srv.Handle("GET /v1/domains/{id}/audit/entries/{seq}", func(w http.ResponseWriter, r *http.Request) {
		e := entries[1]
		apiclienttest.WriteJSON(w, 200, apiv1.AuditEntryWithProof{Entry: e,
			Proof: apiv1.AuditProof{PrevHash: e.PrevHash, EntryHash: e.EntryHash, CanonicalBytes: canon[1]}})
	})
	r := h.ok("audit", "get", "2", "--domain", testDomains[0].ID)
	golden(t, "audit-get.table", r.stdout)
	if p := h.srv.Last().Pattern(); p != "GET /v1/domains/"+testDomains[0].ID+"/audit/entries/2" {
		t.Errorf("request = %q", p)
	}
}

func TestAuditGetProofMismatch(t *testing.T) {
	h := newHarness(t)
	entries, _ := auditChain(2)
	h.srv.JSON("GET /v1/platform/audit/entries/{seq}", 200, apiv1.AuditEntryWithProof{Entry: entries[1],
		Proof: apiv1.AuditProof{PrevHash: entries[1].PrevHash, EntryHash: entries[1].EntryHash, CanonicalBytes: []byte("forged")}})
	r := h.run("audit", "get", "2", "--platform")
	if r.code != ExitError || !strings.Contains(r.stdout, "Proof:") || !strings.Contains(r.stdout, "MISMATCH") {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "does not match entry_hash") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestConfigGetContextsTable(t *testing.T) {
	h := newHarness(t)
	h.writeConfig(`current-context: prod
contexts:
  - name: dev
    server: http://localhost:8080
    token: psk_dev_secret
  - name: prod
    server: https://plexsphere.example.com
    token-file: /etc/plexsphere/prod.psk
  - name: anon
    server: https://public.example.com
`)
	r := h.ok("config", "get-contexts")
	golden(t, "config-get-contexts.table", r.stdout)
	j := h.ok("config", "get-contexts", "-o", "json").stdout
	for _, out := range []string{r.stdout, j} {
		if strings.Contains(out, "psk_dev_secret") {
			t.Errorf("a saved token was printed:\n%s", out)
		}
	}
}
