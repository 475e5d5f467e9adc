package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// seedChain drives real requests so the platform chain has entries 1..n.
func seedChain(t *testing.T, s *server, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"name":"d%d","slug":"d%d","mesh_cidr":"10.%d.0.0/16"}`, i, i, i)
		req, _ := http.NewRequest("POST", s.url+"/v1/domains", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("seed %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
}

// TestAuditVerifyDetectsTampering edits, deletes and reorders rows straight
// in the database and checks that `plexsphere audit verify` names the seq.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	const platform = "00000000-0000-0000-0000-000000000000"
	cases := []struct {
		name    string
		tamper  []string
		wantSeq string
	}{
		{"edit", []string{`UPDATE audit_entries SET action = 'domain.delete' WHERE chain_id = '` + platform + `' AND seq = 3`}, "seq 3"},
		{"delete", []string{`DELETE FROM audit_entries WHERE chain_id = '` + platform + `' AND seq = 4`}, "seq 4"},
		{"reorder", []string{
			`UPDATE audit_entries SET seq = -1 WHERE chain_id = '` + platform + `' AND seq = 2`,
			`UPDATE audit_entries SET seq = 2 WHERE chain_id = '` + platform + `' AND seq = 5`,
			`UPDATE audit_entries SET seq = 5 WHERE chain_id = '` + platform + `' AND seq = -1`}, "seq 2"},
		{"truncate-tail", []string{`DELETE FROM audit_entries WHERE chain_id = '` + platform + `' AND seq = 6`}, "seq 6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			seedChain(t, s, 5) // bootstrap is seq 1, domains are 2..6
			out, errOut, code := run(t, nil, "plexsphere", "audit", "verify", "--data-dir", s.dataDir)
			if code != 0 || !strings.Contains(out, "ok (6 entries)") {
				t.Fatalf("untouched chain: exit %d\n%s%s", code, out, errOut)
			}
			db := openSQLite(t, s.dataDir)
			for _, q := range tc.tamper {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code = run(t, nil, "plexsphere", "audit", "verify", "--data-dir", s.dataDir)
			if code != 1 || !strings.Contains(out, "BROKEN at "+tc.wantSeq) {
				t.Fatalf("tampered (%s): exit %d, want 1 naming %s\n%s%s", tc.name, code, tc.wantSeq, out, errOut)
			}
		})
	}
}
