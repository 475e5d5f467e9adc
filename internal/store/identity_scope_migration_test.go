package store

import (
	"context"
	"testing"

	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

// Issue 7 row 8: migration 00010 moves each existing user identity's key
// to (idp_scope, idp_issuer, idp_subject) with the scope of the binding it
// signed in through, so that existing users keep their identity.
func TestIdentityScopeMigration(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db, p := migratedTo(t, b, 9)
			const dom = "0190c0de-0000-7000-8000-0000000000d1"
			for _, q := range []string{
				// A Domain binding and a platform binding of the same issuer.
				`INSERT INTO idp_bindings (id, domain_id, scope_key, issuer, discovery_url, client_id, client_secret_ref, scopes,
					claim_mappings, required_acr, required_amr, jit_policy, status, is_primary, created_at, updated_at)
					VALUES ('bd', '` + dom + `', '` + dom + `', 'https://idp.example', 'https://idp.example/d', 'c', '', '[]', '{}', '[]', '[]', 'allow', 'active', FALSE, 1, 1)`,
				`INSERT INTO idp_bindings (id, domain_id, scope_key, issuer, discovery_url, client_id, client_secret_ref, scopes,
					claim_mappings, required_acr, required_amr, jit_policy, status, is_primary, created_at, updated_at)
					VALUES ('bp', NULL, '', 'https://idp.example', 'https://idp.example/d', 'c', '', '[]', '{}', '[]', '[]', 'allow', 'active', FALSE, 1, 1)`,
				// A Domain user without sessions, a Domain user whose last
				// session came through the platform binding, a platform user,
				// and a service identity (no issuer).
				`INSERT INTO identities (id, kind, domain_id, display_name, issuer, subject, created_at, updated_at)
					VALUES ('u1', 'user', '` + dom + `', 'u1', 'https://idp.example', 'alice', 1, 1)`,
				`INSERT INTO identities (id, kind, domain_id, display_name, issuer, subject, created_at, updated_at)
					VALUES ('u2', 'user', '` + dom + `', 'u2', 'https://idp.example', 'bob', 1, 1)`,
				`INSERT INTO sessions (id, identity_id, idp_binding_id, secret_hash, acr, amr, created_at, expires_at, last_seen_at)
					VALUES ('s1', 'u2', 'bd', 'h1', '', '[]', 1, 2, 1)`,
				`INSERT INTO sessions (id, identity_id, idp_binding_id, secret_hash, acr, amr, created_at, expires_at, last_seen_at)
					VALUES ('s2', 'u2', 'bp', 'h2', '', '[]', 5, 6, 5)`,
				`INSERT INTO identities (id, kind, domain_id, display_name, issuer, subject, created_at, updated_at)
					VALUES ('u3', 'user', NULL, 'u3', 'https://idp.example', 'carol', 1, 1)`,
				`INSERT INTO identities (id, kind, domain_id, display_name, created_at, updated_at)
					VALUES ('s', 'service_identity', '` + dom + `', 's', 1, 1)`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%v: %s", err, q)
				}
			}
			if _, err := p.UpTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ id, scope, issuer, subject string }{
				{"u1", dom, "https://idp.example", "alice"},
				{"u2", "", "https://idp.example", "bob"},
				{"u3", "", "https://idp.example", "carol"},
				{"s", "<nil>", "<nil>", "<nil>"},
			} {
				var scope, issuer, subject, oldIssuer, oldSubject *string
				if err := db.QueryRowContext(ctx, `SELECT idp_scope, idp_issuer, idp_subject, issuer, subject FROM identities WHERE id = $1`,
					c.id).Scan(&scope, &issuer, &subject, &oldIssuer, &oldSubject); err != nil {
					t.Fatal(err)
				}
				str := func(p *string) string {
					if p == nil {
						return "<nil>"
					}
					return *p
				}
				if str(scope) != c.scope || str(issuer) != c.issuer || str(subject) != c.subject || oldIssuer != nil || oldSubject != nil {
					t.Errorf("%s: scope %q issuer %q subject %q (old %q %q)", c.id, str(scope), str(issuer), str(subject),
						str(oldIssuer), str(oldSubject))
				}
			}
			// Down restores the old key, and Up moves it again.
			if _, err := p.DownTo(ctx, 9); err != nil {
				t.Fatalf("down: %v", err)
			}
			var issuer, subject string
			if err := db.QueryRowContext(ctx, `SELECT issuer, subject FROM identities WHERE id = 'u2'`).Scan(&issuer, &subject); err != nil ||
				issuer != "https://idp.example" || subject != "bob" {
				t.Fatalf("after down: %q %q %v", issuer, subject, err)
			}
			if _, err := p.UpTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			// The same subject of the same issuer may now exist once per scope.
			if _, err := db.ExecContext(ctx, `INSERT INTO identities (id, kind, domain_id, display_name, idp_scope, idp_issuer,
				idp_subject, created_at, updated_at) VALUES ('u4', 'user', NULL, 'u4', 'other', 'https://idp.example', 'alice', 1, 1)`); err != nil {
				t.Fatalf("same subject in another scope: %v", err)
			}
			_, err := db.ExecContext(ctx, `INSERT INTO identities (id, kind, domain_id, display_name, idp_scope, idp_issuer,
				idp_subject, created_at, updated_at) VALUES ('u5', 'user', NULL, 'u5', 'other', 'https://idp.example', 'alice', 1, 1)`)
			if !IsUniqueViolation(err) {
				t.Fatalf("same subject twice in one scope: %v", err)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatalf("later migrations on migrated rows: %v", err)
			}
		})
	}
}
