package identity_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

func TestTokenLifecycle(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			var who apiv1.Whoami
			if st, raw := e.Do(t, "GET", "/v1/auth/whoami", nil, &who); st != 200 || who.PrincipalType != "user" {
				t.Fatalf("whoami: %d %s", st, raw)
			}
			var issued apiv1.IssuedToken
			st, raw := e.Do(t, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: 3600}, &issued)
			if st != 201 || !strings.HasPrefix(issued.Plaintext, "psk_dev_") || issued.ExpiresAt == nil {
				t.Fatalf("issue: %d %s", st, raw)
			}
			if st, _ := e.DoAs(t, issued.Plaintext, "GET", "/v1/domains", nil, nil); st != 200 {
				t.Fatalf("new token rejected: %d", st)
			}
			var list []apiv1.APIToken
			e.Do(t, "GET", "/v1/auth/tokens", nil, &list)
			if len(list) != 2 || strings.Contains(mustJSON(list), issued.Plaintext) {
				t.Fatalf("list: %+v", list)
			}
			for _, it := range list {
				if it.ID == issued.ID && (it.LastUsedAt == nil || it.Prefix != issued.Plaintext[:12]) {
					t.Fatalf("list entry: %+v", it)
				}
			}
			st, raw = e.Do(t, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", IdentityRef: "user:someone-else"}, nil)
			if st != 403 {
				t.Fatalf("issue for another identity: %d %s", st, raw)
			}

			var rotated apiv1.IssuedToken
			if st, raw = e.DoAs(t, issued.Plaintext, "POST", "/v1/auth/tokens/"+issued.ID+"/rotate", nil, &rotated); st != 200 ||
				rotated.RotationDeadline == nil || rotated.Plaintext == issued.Plaintext {
				t.Fatalf("rotate: %d %s", st, raw)
			}
			for _, tok := range []string{issued.Plaintext, rotated.Plaintext} {
				if st, _ := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil); st != 200 {
					t.Fatalf("token rejected during the rotation grace: %d", st)
				}
			}
			if st, raw = e.Do(t, "DELETE", "/v1/auth/tokens/"+issued.ID, nil, nil); st != 204 {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			for _, tok := range []string{issued.Plaintext, rotated.Plaintext} {
				if st, _ := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
					t.Fatalf("revoked token still works: %d", st)
				}
			}
			if st, _ = e.Do(t, "DELETE", "/v1/auth/tokens/"+issued.ID, nil, nil); st != 404 {
				t.Fatalf("second revoke: %d", st)
			}
			// Only hashes are stored.
			var n int
			e.Server.DB.QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE secret_hash = $1 OR prev_hash = $1`, rotated.Plaintext).Scan(&n)
			if n != 0 {
				t.Fatal("a plaintext token is stored")
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDerivedTokenLifetime: Issue 7 row 15. A psk_ token minted by another
// psk_ expires no later than its parent (a year asked for is cut to the
// parent's expiry) and is revoked with it, down the whole chain; a token's
// pre-rotation secret, valid during the grace period, can neither rotate
// nor issue tokens, so a stolen old secret cannot outlive a rotation.
func TestDerivedTokenLifetime(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, b)
			issue := func(tok string, ttl int64) apiv1.IssuedToken {
				t.Helper()
				var out apiv1.IssuedToken
				if st, raw := e.DoAs(t, tok, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: ttl}, &out); st != 201 || out.ExpiresAt == nil {
					t.Fatalf("issue: %d %s", st, raw)
				}
				return out
			}
			works := func(tok string) bool {
				t.Helper()
				st, _ := e.DoAs(t, tok, "GET", "/v1/auth/whoami", nil, nil)
				return st == 200
			}
			const year = 365 * 24 * 3600
			parent := issue(e.Token, 3600)
			child := issue(parent.Plaintext, year)
			if child.ExpiresAt.After(*parent.ExpiresAt) {
				t.Fatalf("child expires %v, after its parent %v", child.ExpiresAt, parent.ExpiresAt)
			}
			grandchild := issue(child.Plaintext, 0)
			if grandchild.ExpiresAt.After(*parent.ExpiresAt) {
				t.Fatalf("grandchild expires %v, after its grandparent %v", grandchild.ExpiresAt, parent.ExpiresAt)
			}
			sibling := issue(e.Token, 3600)
			if st, raw := e.Do(t, "DELETE", "/v1/auth/tokens/"+parent.ID, nil, nil); st != 204 {
				t.Fatalf("revoke parent: %d %s", st, raw)
			}
			for name, tok := range map[string]string{"parent": parent.Plaintext, "child": child.Plaintext, "grandchild": grandchild.Plaintext} {
				if works(tok) {
					t.Fatalf("%s survived revoking the parent", name)
				}
			}
			if !works(sibling.Plaintext) || !works(e.Token) {
				t.Fatal("revoking a token ended an unrelated one")
			}

			// Rotation only with the current secret.
			var rotated apiv1.IssuedToken
			if st, raw := e.DoAs(t, sibling.Plaintext, "POST", "/v1/auth/tokens/"+sibling.ID+"/rotate", nil, &rotated); st != 200 {
				t.Fatalf("rotate: %d %s", st, raw)
			}
			if !works(sibling.Plaintext) {
				t.Fatal("the old secret stopped working inside the grace period")
			}
			st, raw := e.DoAs(t, sibling.Plaintext, "POST", "/v1/auth/tokens/"+sibling.ID+"/rotate", nil, nil)
			if st != 401 || problemCode(raw) != "token_superseded" {
				t.Fatalf("the pre-rotation secret rotated again: %d %s", st, raw)
			}
			st, raw = e.DoAs(t, sibling.Plaintext, "POST", "/v1/auth/tokens", apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: 60}, nil)
			if st != 401 || problemCode(raw) != "token_superseded" {
				t.Fatalf("the pre-rotation secret issued a token: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, rotated.Plaintext, "POST", "/v1/auth/tokens/"+sibling.ID+"/rotate", nil, nil); st != 200 {
				t.Fatalf("the current secret cannot rotate: %d %s", st, raw)
			}
		})
	}
}

func problemCode(raw []byte) string {
	var p apiv1.Problem
	json.Unmarshal(raw, &p)
	return p.Code
}
