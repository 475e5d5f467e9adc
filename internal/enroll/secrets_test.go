package enroll_test

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestSigningKeysAPI lists a Domain's keys, rotates them (grace bounds,
// 409 while a key is retiring) and checks that registration then returns
// the new active key, on both databases.
func TestSigningKeysAPI(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "keys", "100.95.0.0/24", "")
			base := "/v1/domains/" + f.domain.ID + "/signing-keys"
			var keys apiv1.List[apiv1.SigningKey]
			if st, raw := e.Do(t, "GET", base, nil, &keys); st != 200 || len(keys.Items) != 1 ||
				keys.Items[0].Status != "active" || keys.Items[0].Algorithm != "EdDSA" || keys.Items[0].NotAfter != nil {
				t.Fatalf("first use creates one active key: %d %s", st, raw)
			}
			if raw, _ := base64.StdEncoding.DecodeString(keys.Items[0].PublicKey); len(raw) != 32 {
				t.Fatalf("public key is not 32 bytes: %q", keys.Items[0].PublicKey)
			}
			first := keys.Items[0]
			resp, raw := e.registerAgent(t, e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token, newKey(), "before")
			early := decodeRegistered(t, raw)
			if resp.StatusCode != 200 || early.SigningPublicKey != first.PublicKey {
				t.Fatalf("register before rotation: %d %s", resp.StatusCode, raw)
			}
			for _, body := range []string{`{"grace_seconds":60}`, `{"grace_seconds":700000}`} {
				st, raw := e.Do(t, "POST", base+":rotate", body, nil)
				wantProblem(t, st, raw, 400, "invalid_body")
			}
			var rot apiv1.SigningKeyRotation
			before := time.Now()
			if st, raw := e.Do(t, "POST", base+":rotate", `{}`, &rot); st != 200 || rot.Retiring.KID != first.KID ||
				rot.Retiring.Status != "retiring" || rot.Active.Status != "active" || rot.Active.KID == first.KID ||
				rot.Retiring.NotAfter == nil || rot.Retiring.NotAfter.Sub(before) < 24*time.Hour-time.Minute ||
				rot.Retiring.NotAfter.Sub(before) > 24*time.Hour+time.Minute {
				t.Fatalf("rotate (default grace 24 h): %d %s", st, raw)
			}
			st, raw := e.Do(t, "POST", base+":rotate", `{"grace_seconds":3600}`, nil)
			wantProblem(t, st, raw, 409, "signing_key_rotation_in_progress")
			if st, raw := e.Do(t, "GET", base, nil, &keys); st != 200 || len(keys.Items) != 2 ||
				keys.Items[0].KID != rot.Active.KID || keys.Items[1].KID != first.KID || keys.Items[1].Status != "retiring" ||
				keys.Items[1].NotAfter == nil {
				t.Fatalf("old key listed as retiring: %d %s", st, raw)
			}
			// The rotation was announced to the live node, recorded with the
			// outgoing key it trusts (K4), and its state tells the live truth (K3).
			var kid, payload string
			if err := e.Server.DB.QueryRow(`SELECT key_id, payload FROM event_log WHERE node_id = $1 AND event_type = 'signing_key_rotated'`,
				early.NodeID).Scan(&kid, &payload); err != nil || kid != first.KID ||
				!strings.Contains(payload, `"current":"`+rot.Active.PublicKey+`"`) || !strings.Contains(payload, `"previous":"`+first.PublicKey+`"`) {
				t.Fatalf("signing_key_rotated: %v %s %s", err, kid, payload)
			}
			sresp, sraw := e.raw(t, "GET", "/v1/nodes/"+early.NodeID+"/state", map[string]string{"Authorization": "Bearer " + early.NodeSecretKey}, nil)
			if sresp.StatusCode != 200 || !strings.Contains(string(sraw), `"current":"`+rot.Active.PublicKey+`"`) ||
				!strings.Contains(string(sraw), `"previous":"`+first.PublicKey+`"`) {
				t.Fatalf("state after rotation: %d %s", sresp.StatusCode, sraw)
			}
			resp, raw = e.registerAgent(t, e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod"}).Token, newKey(), "k")
			if r := decodeRegistered(t, raw); resp.StatusCode != 200 || r.SigningPublicKey != rot.Active.PublicKey {
				t.Fatalf("register after rotation returns %s, want the active %s", r.SigningPublicKey, rot.Active.PublicKey)
			}
			st, raw = e.Do(t, "GET", "/v1/domains/01900000-0000-7000-8000-00000000dead/signing-keys", nil, nil)
			if st != 404 && st != 403 {
				t.Fatalf("unknown domain: %d %s", st, raw)
			}
			st, raw = e.Do(t, "GET", "/v1/domains/nope/signing-keys", nil, nil)
			wantProblem(t, st, raw, 400, "invalid_domain_id")
			st, raw = e.DoAs(t, "", "POST", base+":rotate", `{}`, nil)
			wantProblem(t, st, raw, 401, "unauthenticated")
		})
	}
}

// TestNoSecretsAtRest drives issue, registration, replay, failures and NSK
// authentication with debug logging, then greps the log and every text
// column of the enrolment, audit and key tables: no bootstrap token, NSK or
// private key appears in plaintext (node-protocol.md §3.2, STYLE.md).
func TestNoSecretsAtRest(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			addProbe(e)
			f := e.fixture(t, "secrets", "100.96.0.0/24", "")
			issued := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 2})
			key := newKey()
			resp, raw := e.registerAgent(t, issued.Token, key, "s")
			r := decodeRegistered(t, raw)
			if resp.StatusCode != 200 {
				t.Fatalf("register: %d %s", resp.StatusCode, raw)
			}
			e.registerAgent(t, issued.Token, key, "s")          // replay
			e.registerAgent(t, issued.Token+"x", newKey(), "s") // bad token
			e.registerAgent(t, issued.Token, "not-a-key", "s")  // bad key
			e.raw2(t, "POST", "/v1/nodes/"+r.NodeID+"/probe-test", r.NodeSecretKey)
			e.raw2(t, "POST", "/v1/nodes/"+f.domain.ID+"/probe-test", r.NodeSecretKey) // mismatch
			e.Do(t, "POST", "/v1/domains/"+f.domain.ID+"/signing-keys:rotate", `{}`, nil)
			e.Do(t, "DELETE", "/v1/nodes/"+r.NodeID, nil, nil)
			e.raw2(t, "POST", "/v1/nodes/"+r.NodeID+"/probe-test", r.NodeSecretKey) // revoked

			secret := issued.Token[strings.LastIndex(issued.Token, "_")+17:] // the part after the lookup id
			needles := map[string]string{"bootstrap token": issued.Token, "token secret": secret, "NSK": r.NodeSecretKey}
			for name, kid := range signingKIDs(t, e.Server.DB.DB, f.domain.ID) {
				priv := openSigningKey(t, e, kid)
				if priv == nil {
					continue
				}
				needles["private key "+name] = base64.StdEncoding.EncodeToString(priv)
				needles["seed "+name] = base64.StdEncoding.EncodeToString(priv[:32])
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "/v1/register") {
				t.Fatal("the log capture saw no requests; the test would prove nothing")
			}
			for name, v := range needles {
				if strings.Contains(logs, v) {
					t.Errorf("%s appears in the log", name)
				}
			}
			for _, table := range []string{"bootstrap_tokens", "nodes", "signing_keys", "audit_entries", "resources",
				"relation_tuples", "event_log", "server_keys"} {
				dump := dumpTable(t, e.Server.DB.DB, table)
				if dump == "" && table != "server_keys" && table != "event_log" {
					t.Errorf("table %s is empty; the scan would prove nothing", table)
				}
				for name, v := range needles {
					if strings.Contains(dump, v) {
						t.Errorf("%s appears in plaintext in table %s", name, table)
					}
				}
			}
		})
	}
}

// signingKIDs returns the Domain's key ids by position.
func signingKIDs(t *testing.T, db *sql.DB, domainID string) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT kid FROM signing_keys WHERE domain_id = $1`, domainID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for i := 0; rows.Next(); i++ {
		var kid string
		rows.Scan(&kid)
		out[fmt.Sprint(i)] = kid
	}
	return out
}

// openSigningKey opens a key's sealed private half with the server's
// keyring, as only the signing backend should.
func openSigningKey(t *testing.T, e *env, kid string) []byte {
	t.Helper()
	var sealed string
	if err := e.Server.DB.QueryRow(`SELECT private_sealed FROM signing_keys WHERE kid = $1`, kid).Scan(&sealed); err != nil || sealed == "" {
		return nil
	}
	raw, _ := base64.StdEncoding.DecodeString(sealed)
	pt, err := e.Server.Keyring.Open("signing-key:"+kid, raw)
	if err != nil {
		t.Fatalf("sealed key does not open: %v", err)
	}
	return pt
}

// dumpTable renders every row of a table as text.
func dumpTable(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var sb strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		for _, v := range vals {
			switch x := v.(type) {
			case []byte:
				sb.Write(x)
			default:
				fmt.Fprint(&sb, x)
			}
			sb.WriteByte('|')
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
