package audit_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// call sends a request with a bearer token ("" for none), a User-Agent and
// an optional JSON body; it returns the status and the body.
func call(t *testing.T, e *apptest.Env, token, ua, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// count counts audit entries matching where.
func count(t *testing.T, db *store.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func correlation(t *testing.T, raw []byte) string {
	t.Helper()
	var v struct {
		CorrelationID string `json:"correlation_id"`
	}
	json.Unmarshal(raw, &v)
	return v.CorrelationID
}

func verifyAll(t *testing.T, db *store.DB) {
	t.Helper()
	rows, err := db.Query(`SELECT chain_id FROM audit_chains`)
	if err != nil {
		t.Fatal(err)
	}
	var chains []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		chains = append(chains, c)
	}
	rows.Close()
	for _, c := range chains {
		if res, err := audit.Verify(context.Background(), db, c, 0, 0); err != nil || !res.OK {
			t.Fatalf("chain %s: %+v %v", c, res, err)
		}
	}
}

func newDomain(t *testing.T, e *apptest.Env, slug, cidr string) (apiv1.Domain, apiv1.Project) {
	t.Helper()
	var d apiv1.Domain
	if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug, MeshCIDR: cidr}, &d); st != 201 {
		t.Fatalf("domain: %d %s", st, raw)
	}
	var p apiv1.Project
	if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "p", Slug: "p"}, &p); st != 201 {
		t.Fatalf("project: %d %s", st, raw)
	}
	return d, p
}

// Issue 7 row 5: a User-Agent with a byte ≥ 0x80, or a multibyte rune cut
// by the 256-byte truncation, made the audit insert fail on PostgreSQL: the
// change answered 500 and, for a denial, no audit row was written. Now the
// change commits with its entry, the denial is audited, and what is stored
// is valid UTF-8 of at most 256 bytes.
func TestIssue7Row5UserAgentCannotEvadeAudit(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			_, stranger := e.NewUser(t, "stranger")
			agents := map[string]string{
				"invalid": "curl/8 \xff\xfe probe",
				"cut":     strings.Repeat("a", 255) + "é and more",
				"long":    strings.Repeat("€", 200),
			}
			i := 0
			for name, ua := range agents {
				i++
				slug := "ua-" + name
				body := `{"name":"x","slug":"` + slug + `","mesh_cidr":"10.` + string(rune('0'+i)) + `.0.0/16"}`
				st, raw := call(t, e, e.Token, ua, "POST", "/v1/domains", body)
				if st != http.StatusCreated {
					t.Fatalf("%s: create: %d %s", name, st, raw)
				}
				var d apiv1.Domain
				json.Unmarshal(raw, &d)
				if n := count(t, db, `action = 'domain.create' AND outcome = 'succeeded' AND object_id = $1`, d.ID); n != 1 {
					t.Fatalf("%s: the change committed with %d audit entries", name, n)
				}
				st, raw = call(t, e, stranger, ua, "GET", "/v1/domains/"+d.ID, "")
				if st != http.StatusForbidden {
					t.Fatalf("%s: stranger read: %d %s", name, st, raw)
				}
				if n := count(t, db, `outcome = 'denied' AND correlation_id = $1`, correlation(t, raw)); n != 1 {
					t.Fatalf("%s: the denial left %d audit entries", name, n)
				}
			}
			rows, err := db.Query(`SELECT user_agent FROM audit_entries WHERE user_agent <> ''`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			seen := 0
			for rows.Next() {
				var ua string
				rows.Scan(&ua)
				seen++
				if !utf8.ValidString(ua) || len(ua) > audit.MaxUserAgent {
					t.Fatalf("stored user agent %q (%d bytes)", ua, len(ua))
				}
			}
			if seen < 6 {
				t.Fatalf("user agents stored: %d", seen)
			}
			verifyAll(t, db)
		})
	}
}

// Issue 7 row 5: an audit append that fails fails the request's
// transaction: the change does not commit without its entry.
func TestIssue7Row5AppendFailureFailsTheChange(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			if _, err := db.Exec(`UPDATE audit_chains SET last_hash = 'not-hex' WHERE chain_id = $1`, audit.PlatformChain); err != nil {
				t.Fatal(err)
			}
			st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: "x", Slug: "x", MeshCIDR: "10.9.0.0/16"}, nil)
			if st != http.StatusInternalServerError {
				t.Fatalf("create with a broken chain: %d %s", st, raw)
			}
			var n int
			db.QueryRow(`SELECT COUNT(*) FROM domains WHERE slug = 'x'`).Scan(&n)
			if n != 0 {
				t.Fatal("the Domain committed without its audit entry")
			}
		})
	}
}

// TestCleanCutsOnRuneBoundaries holds Clean to its contract.
func TestCleanCutsOnRuneBoundaries(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"a\x00b", 10, "ab"},
		{"aé", 2, "a"},
		{"€€", 5, "€"},
		{"\xff\xff\xff", 4, "\uFFFD"},
	} {
		got := audit.Clean(c.in, c.max)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.max {
			t.Errorf("Clean(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// Issue 7 row 9: failed authentications were never audited (every 401 was
// skipped): forged and revoked psk_, forged psb_, revoked NSK.
func TestIssue7Row9FailedAuthenticationAudited(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			_, p := newDomain(t, e, "acme", "10.20.0.0/16")

			// A forged psk_, a revoked psk_ and a forged psb_.
			st, raw := call(t, e, "psk_dev_"+strings.Repeat("0", 40), "ua", "GET", "/v1/domains", "")
			if st != 401 || count(t, db, `chain_id = $1 AND outcome = 'denied' AND reason = 'unauthenticated'
				AND correlation_id = $2`, audit.PlatformChain, correlation(t, raw)) != 1 {
				t.Fatalf("forged psk_: %d %s not audited", st, raw)
			}
			_, tok := e.NewUser(t, "leaver")
			var list []apiv1.APIToken // the contract's bare array (issue 8)
			if st, raw := e.DoAs(t, tok, "GET", "/v1/auth/tokens", nil, &list); st != 200 || len(list) != 1 {
				t.Fatalf("tokens: %d %s", st, raw)
			}
			if st, raw := e.DoAs(t, tok, "DELETE", "/v1/auth/tokens/"+list[0].ID, nil, nil); st != 204 {
				t.Fatalf("revoke: %d %s", st, raw)
			}
			st, raw = call(t, e, tok, "ua", "POST", "/v1/domains", `{"name":"n","slug":"n","mesh_cidr":"10.30.0.0/16"}`)
			if st != 401 || count(t, db, `outcome = 'denied' AND correlation_id = $1`, correlation(t, raw)) != 1 {
				t.Fatalf("revoked psk_: %d %s not audited", st, raw)
			}
			st, raw = call(t, e, "psb_prod_"+strings.Repeat("1", 40), "ua", "POST", "/v1/register", `{}`)
			if st != 401 || count(t, db, `action = 'node.register' AND outcome = 'denied' AND correlation_id = $1`,
				correlation(t, raw)) != 1 {
				t.Fatalf("forged psb_: %d %s not audited", st, raw)
			}
			st, raw = call(t, e, "", "ua", "POST", "/v1/auth/service/token",
				`{"grant_type":"client_credentials","client_id":"`+uuid.NewString()+`","client_secret":"guess"}`)
			if st != 401 || count(t, db, `action = 'auth.service_token' AND outcome = 'denied' AND correlation_id = $1`,
				correlation(t, raw)) != 1 {
				t.Fatalf("refused service secret: %d %s not audited", st, raw)
			}
			st, raw = call(t, e, "", "ua", "POST", "/v1/auth/device-token",
				`{"grant_type":"`+apiv1.GrantDeviceCode+`","device_code":"forged"}`)
			if st/100 != 4 || count(t, db, `action = 'auth.device_token' AND correlation_id = $1`, correlation(t, raw)) != 1 {
				t.Fatalf("forged device code: %d %s not audited", st, raw)
			}

			// A revoked NSK.
			var bt apiv1.IssuedBootstrapToken
			if st, raw := e.Do(t, "POST", "/v1/projects/"+p.ID+"/bootstrap-tokens",
				apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test"}, &bt); st != 201 {
				t.Fatalf("bootstrap token: %d %s", st, raw)
			}
			pub := make([]byte, 32)
			rand.Read(pub)
			st, raw = call(t, e, bt.Token, "plexd", "POST", "/v1/register",
				`{"token":"`+bt.Token+`","public_key":"`+base64.StdEncoding.EncodeToString(pub)+`","hostname":"h"}`)
			var node struct {
				NodeID string `json:"node_id"`
				NSK    string `json:"node_secret_key"`
			}
			if json.Unmarshal(raw, &node); st/100 != 2 || node.NSK == "" {
				t.Fatalf("register: %d %s", st, raw)
			}
			if st, raw := call(t, e, node.NSK, "plexd", "POST", "/v1/nodes/"+node.NodeID+"/deregister", ""); st/100 != 2 {
				t.Fatalf("deregister: %d %s", st, raw)
			}
			st, raw = call(t, e, node.NSK, "plexd", "POST", "/v1/nodes/"+node.NodeID+"/heartbeat", `{}`)
			// A deregistered node has left its Domain's structure, so the
			// refusal names the node on the platform chain.
			if st != 401 || count(t, db, `reason = 'nsk_revoked' AND object_type = 'node' AND object_id = $1
				AND correlation_id = $2`, node.NodeID, correlation(t, raw)) != 1 {
				t.Fatalf("revoked NSK: %d %s not audited", st, raw)
			}
			verifyAll(t, db)
		})
	}
}

// Issue 7 row 9: denials on a Domain's objects went to the platform chain;
// they belong on that Domain's.
func TestIssue7Row9DenialsGoToTheDomainChain(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			d, p := newDomain(t, e, "acme", "10.20.0.0/16")
			var r apiv1.Resource
			if st, raw := e.Do(t, "POST", "/v1/projects/"+p.ID+"/resources", map[string]any{"origin": "adopted", "kind": "vm"}, &r); st != 201 {
				t.Fatalf("resource: %d %s", st, raw)
			}
			_, stranger := e.NewUser(t, "stranger")
			for _, c := range [][3]string{
				{"GET", "/v1/projects/" + p.ID, ""},
				{"PATCH", "/v1/projects/" + p.ID, `{"name":"x"}`},
				{"DELETE", "/v1/domains/" + d.ID, ""},
				{"GET", "/v1/projects/" + p.ID + "/bootstrap-tokens", ""},
				{"POST", "/v1/projects/" + p.ID + "/resources", `{"origin":"adopted","kind":"vm"}`},
				{"DELETE", "/v1/resources/" + r.ID, ""},
			} {
				path := c[0] + " " + c[1]
				st, raw := call(t, e, stranger, "ua", c[0], c[1], c[2])
				corr := correlation(t, raw)
				if st != 403 || count(t, db, `chain_id = $1 AND outcome = 'denied' AND correlation_id = $2`, d.ID, corr) != 1 ||
					count(t, db, `chain_id = $1 AND correlation_id = $2`, audit.PlatformChain, corr) != 0 {
					t.Fatalf("denied %s: %d %s is not on the Domain's chain", path, st, raw)
				}
			}
			verifyAll(t, db)
		})
	}
}

// appender is one Log on a migrated database with a settable clock.
type appender struct {
	log *audit.Log
	db  *store.DB
	mu  sync.Mutex
	at  time.Time
}

func newAppender(t *testing.T, b apptest.Backend) *appender {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: apptest.DatabaseURL(t, b), SQLitePath: t.TempDir() + "/a.db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	a := &appender{db: db, at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	pepper := make([]byte, 32)
	rand.Read(pepper)
	if a.log, err = audit.New(audit.Config{DB: db, Pepper: pepper, Now: a.now}); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *appender) now() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at
}

func (a *appender) advance(d time.Duration) {
	a.mu.Lock()
	a.at = a.at.Add(d)
	a.mu.Unlock()
}

// finish runs a request's audit end as the API middleware does.
func (a *appender) finish(ip, action, code string, status int) {
	r := &audit.Request{Action: action, CorrelationID: uuid.NewString(), IP: ip, UserAgent: "flood", Mutating: true}
	ctx := audit.WithRequest(context.Background(), r)
	r.SetCode(code)
	a.log.Finish(ctx, status, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// Issue 7 row 10: every 429 (and now every 401) appended its own entry, so
// a flood lengthened the chain without bound. They are aggregated: the
// first per client network, action and reason in a window, then one
// roll-up entry whose object counts the rest.
func TestIssue7Row10FloodsAreAggregated(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			a := newAppender(t, b)
			for range 50 {
				a.finish("192.0.2.7", "auth.device_code", "rate_limited", http.StatusTooManyRequests)
				a.finish("2001:db8::1", "auth.service_token", "invalid_client", http.StatusUnauthorized)
				a.finish("2001:db8::2", "auth.service_token", "invalid_client", http.StatusUnauthorized) // same /64
			}
			a.finish("192.0.2.8", "auth.device_code", "rate_limited", http.StatusTooManyRequests)
			if n := count(t, a.db, `chain_id = $1`, audit.PlatformChain); n != 3 {
				t.Fatalf("entries during the flood: %d, want 3 (one per client network)", n)
			}
			a.advance(audit.DefaultBurstWindow + time.Second)
			a.finish("192.0.2.7", "auth.device_code", "rate_limited", http.StatusTooManyRequests)
			rows, err := a.db.Query(`SELECT action, reason, outcome, object_id FROM audit_entries
				WHERE object_type = $1 ORDER BY action`, audit.SuppressedEvents)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var action, reason, outcome, n string
				rows.Scan(&action, &reason, &outcome, &n)
				got = append(got, action+" "+reason+" "+outcome+" "+n)
			}
			rows.Close()
			want := []string{"auth.device_code rate_limited denied 49", "auth.service_token invalid_client denied 99"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("roll-ups %q, want %q", got, want)
			}
			// Rolled up entries plus the new window's first.
			if n := count(t, a.db, `chain_id = $1`, audit.PlatformChain); n != 6 {
				t.Fatalf("entries after the window: %d", n)
			}
			if res, err := audit.Verify(context.Background(), a.db, audit.PlatformChain, 0, 0); err != nil || !res.OK {
				t.Fatalf("verify: %+v %v", res, err)
			}
		})
	}
}

// Issue 7 row 10, end to end: a flood of refused credentials and of
// rate-limited calls adds a bounded number of entries.
func TestIssue7Row10FloodThroughTheAPI(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			before := count(t, db, `chain_id = $1`, audit.PlatformChain)
			limited := 0
			for range e.Config.PublicBurst + 40 {
				st, _ := call(t, e, "", "flood", "POST", "/v1/auth/service/token",
					`{"grant_type":"client_credentials","client_id":"`+uuid.NewString()+`","client_secret":"guess"}`)
				if st == http.StatusTooManyRequests {
					limited++
				}
			}
			for range 40 {
				call(t, e, "psk_dev_"+strings.Repeat("0", 40), "flood", "GET", "/v1/domains", "")
			}
			if limited == 0 {
				t.Fatal("the flood was never rate-limited")
			}
			if n := count(t, db, `chain_id = $1`, audit.PlatformChain) - before; n > 4 {
				t.Fatalf("the flood added %d entries", n)
			}
			if count(t, db, `reason = 'rate_limited'`) != 1 || count(t, db, `reason = 'unauthenticated'`) != 1 {
				t.Fatal("the first refusal of each kind is not audited")
			}
		})
	}
}

// Issue 7 row 10: any user could append entries to another Domain's chain
// (authz.check about itself on that Domain's objects). A stranger's check is
// written to the platform chain, an auditor's to the Domain's.
func TestIssue7Row10NoEntriesInAForeignChain(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			d, p := newDomain(t, e, "victim", "10.40.0.0/16")
			strangerID, stranger := e.NewUser(t, "stranger")
			before := count(t, db, `chain_id = $1`, d.ID)
			body := `{"subject":"user:` + strangerID + `","relation":"read","resource":"project:` + p.ID + `"}`
			for range 5 {
				if st, raw := call(t, e, stranger, "ua", "POST", "/v1/authz/check", body); st != 200 {
					t.Fatalf("self check: %d %s", st, raw)
				}
			}
			if n := count(t, db, `chain_id = $1`, d.ID) - before; n != 0 {
				t.Fatalf("a stranger appended %d entries to the Domain's chain", n)
			}
			if count(t, db, `chain_id = $1 AND action = 'authz.check'`, audit.PlatformChain) != 5 {
				t.Fatal("the stranger's checks are not audited on the platform chain")
			}
			// The admin, a member of everything, checks on the Domain chain.
			adminCheck := `{"subject":"user:` + strangerID + `","relation":"read","resource":"project:` + p.ID + `"}`
			if st, raw := e.Do(t, "POST", "/v1/authz/check", adminCheck, nil); st != 200 {
				t.Fatalf("auditor check: %d %s", st, raw)
			}
			if count(t, db, `chain_id = $1 AND action = 'authz.check'`, d.ID) != 1 {
				t.Fatal("an auditor's check is not on the Domain's chain")
			}
		})
	}
}

// Issue 7 row 10: requests naming a random UUID as a Domain created a chain
// for it. Chains exist only for the platform and existing Domains.
func TestIssue7Row10NoChainsForPhantomDomains(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			e := apptest.Start(t, b)
			db := e.Server.DB
			strangerID, stranger := e.NewUser(t, "stranger")
			phantom := uuid.Must(uuid.NewV7()).String()
			for _, c := range []struct{ token, method, path, body string }{
				{stranger, "POST", "/v1/authz/check", `{"subject":"user:` + strangerID + `","relation":"read","resource":"domain:` + phantom + `"}`},
				{e.Token, "POST", "/v1/authz/check", `{"subject":"user:` + strangerID + `","relation":"read","resource":"domain:` + phantom + `"}`},
				{stranger, "GET", "/v1/domains/" + phantom, ""},
				{stranger, "PATCH", "/v1/domains/" + phantom, `{"name":"x"}`},
				{e.Token, "PATCH", "/v1/domains/" + phantom, `{"name":"x"}`},
				{stranger, "GET", "/v1/domains/" + phantom + "/audit/entries", ""},
				{stranger, "POST", "/v1/domains/" + phantom + "/signing-keys:rotate", ""},
				{stranger, "POST", "/v1/projects", `{"domain_id":"` + phantom + `","name":"q","slug":"q"}`},
			} {
				if st, raw := call(t, e, c.token, "ua", c.method, c.path, c.body); st >= 500 {
					t.Fatalf("%s %s: %d %s", c.method, c.path, st, raw)
				}
			}
			var chains int
			db.QueryRow(`SELECT COUNT(*) FROM audit_chains WHERE chain_id = $1`, phantom).Scan(&chains)
			if chains != 0 || count(t, db, `chain_id = $1`, phantom) != 0 {
				t.Fatal("a chain was created for a Domain that does not exist")
			}
			db.QueryRow(`SELECT COUNT(*) FROM audit_chains WHERE chain_id <> $1
				AND chain_id NOT IN (SELECT id FROM domains)`, audit.PlatformChain).Scan(&chains)
			if chains != 0 {
				t.Fatalf("%d chains without a Domain", chains)
			}
			err := db.Tx(context.Background(), func(tx *sql.Tx) error {
				_, err := e.Server.Audit.Append(context.Background(), tx, audit.Entry{ChainID: phantom, Action: "x", Outcome: audit.Succeeded})
				return err
			})
			if !errors.Is(err, audit.ErrNoChain) {
				t.Fatalf("append to a phantom chain: %v", err)
			}
			verifyAll(t, db)
		})
	}
}

// Issue 7 row 5: not only the user agent: every request-derived string an
// entry stores (reason, object id from a path, client address, caveat
// names) is cleaned, so no field can make the append fail on either
// database, and the stored entry verifies.
func TestIssue7Row5EveryFieldIsCleaned(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			a := newAppender(t, b)
			ctx := context.Background()
			bad := "x\xff\x00" + strings.Repeat("é", 600)
			e := audit.Entry{ChainID: audit.PlatformChain, Action: "probe" + bad, Outcome: audit.Denied, Reason: bad,
				IdentityRef: bad, Relation: bad, ObjectType: bad, ObjectID: bad, CaveatNames: []string{"ok", bad},
				CorrelationID: bad, IP: bad, UserAgent: bad}
			err := a.db.Tx(ctx, func(tx *sql.Tx) error { _, err := a.log.Append(ctx, tx, e); return err })
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if e.CaveatNames[1] != bad {
				t.Fatal("Append changed the caller's caveat names")
			}
			got, err := a.log.Get(ctx, audit.PlatformChain, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{got.Action, got.Reason, got.ObjectID, got.IP, got.UserAgent, got.CorrelationID} {
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > 512 {
					t.Fatalf("stored %q", s)
				}
			}
			if res, err := audit.Verify(ctx, a.db, audit.PlatformChain, 0, 0); err != nil || !res.OK {
				t.Fatalf("verify: %+v %v", res, err)
			}
		})
	}
}
