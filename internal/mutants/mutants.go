// Package mutants holds the curated list of mutations of plexsphere's trust
// paths (issue 17): realistic one-line bugs in token, NSK, bootstrap-token,
// envelope, cursor, OIDC, audit and client-address checks, each with the
// tests expected to fail when the bug is present. The list is the contract:
// a row whose snippet no longer occurs exactly once in its file is stale and
// fails the run, so moving the code means updating the row in review.
//
// TestMutantsAreKilled (PLEXSPHERE_MUTANTS=1) applies each row through
// `go test -overlay` (the working tree is never modified) and fails when a
// mutant survives, does not build, or when its killing tests fail on the
// unmutated code. docs/testing.md explains how to add a row.
package mutants

// Mutant is one mutation and the tests that must kill it.
type Mutant struct {
	ID   string // short stable name, printed in the report
	File string // repository-relative path of the mutated file
	Orig string // exact snippet; must occur exactly once in File
	Repl string // what replaces Orig
	Pkg  string // package whose tests run, e.g. ./internal/identity
	Run  string // -run regexp of the tests expected to kill it; keep it narrow
	Why  string // the bug in one line
}

// List is the contract: every row must be killed, deterministically.
var List = []Mutant{
	{
		ID:   "identity-hash-display-prefix",
		File: "internal/identity/tokens.go",
		Orig: "sum := sha256.Sum256([]byte(plain))",
		Repl: "sum := sha256.Sum256([]byte(plain[:min(len(plain), displayLen)]))",
		Pkg:  "./internal/identity",
		Run:  "^TestTokenSecretBeyondDisplayPrefix$",
		Why:  "issue 17 item 1: only the public display prefix of an API token is hashed",
	},
	{
		ID:   "identity-rotation-grace-forever",
		File: "internal/identity/tokens.go",
		Orig: "secretHash != h && (prevNotAfter == nil || now.After(store.Time(*prevNotAfter))):",
		Repl: "secretHash != h && prevNotAfter == nil:",
		Pkg:  "./internal/identity",
		Run:  "^TestRotatedSecretEndsAtDeadline$",
		Why:  "issue 17 item 4: a rotated token's old secret stays valid past the grace deadline",
	},
	{
		ID:   "enroll-revoked-before-replay",
		File: "internal/enroll/register.go",
		Orig: "\tif tok.RevokedAt != nil {\n\t\treturn nil, unauthorized(\"token_revoked\", \"The bootstrap token was revoked.\")\n\t}\n\tr := &redemption{",
		Repl: "\tr := &redemption{",
		Pkg:  "./internal/enroll",
		Run:  "^TestRevokedTokenStopsRegistrationReplay$",
		Why:  "issue 17 item 2: a revoked bootstrap token still replays a registration and refetches the NSK",
	},
	{
		ID:   "enroll-node-list-unfiltered",
		File: "internal/enroll/nodes.go",
		Orig: "if out.Body.Items, err = visibleRows(ctx, s.authz, \"read\", out.Body.Items,",
		Repl: "if _, err = visibleRows(ctx, s.authz, \"read\", out.Body.Items,",
		Pkg:  "./internal/enroll",
		Run:  "^TestNodeListHidesForeignNodes$",
		Why:  "issue 17 item 3: GET /v1/nodes keeps rows the caller may not read",
	},
	{
		ID:   "enroll-bootstrap-hash-compare",
		File: "internal/enroll/tokens.go",
		Orig: "return subtle.ConstantTimeCompare(got, want) == 1, nil",
		Repl: "return subtle.ConstantTimeCompare(got[:0], want[:0]) == 1, nil",
		Pkg:  "./internal/enroll",
		Run:  "^TestRegisterGate$",
		Why:  "any bootstrap token secret matches its stored Argon2id hash",
	},
	{
		ID:   "audit-prev-hash-unchecked",
		File: "internal/audit/verify.go",
		Orig: "case havePrv && e.PrevHash != s.last:",
		Repl: "case false && havePrv && e.PrevHash != s.last:",
		Pkg:  "./internal/audit",
		Run:  "^TestRewrittenEntryBreaksTheNextLink$",
		Why:  "issue 17 item 5: audit verification skips the prev_hash = previous entry_hash link inside a segment",
	},
	{
		ID:   "api-xff-without-proxies",
		File: "internal/api/edge.go",
		Orig: "if !inPrefixes(peer, proxies) {",
		Repl: "if len(proxies) > 0 && !inPrefixes(peer, proxies) {",
		Pkg:  "./internal/api",
		Run:  "^TestForwardedForIgnoredWithoutTrustedProxies$",
		Why:  "issue 17 item 6: X-Forwarded-For is trusted when no proxy is configured",
	},
	{
		ID:   "api-nsk-unknown-accepted",
		File: "internal/api/node_auth.go",
		Orig: "\tcase id == \"\":\n\t\ts.writeProblem(ctx, problem.New(http.StatusUnauthorized, \"unauthorized\", \"The node secret key is not known.\"))\n\t\treturn\n",
		Repl: "",
		Pkg:  "./internal/api",
		Run:  "^TestNodeAuthentication$",
		Why:  "an unknown NSK authenticates",
	},
	{
		ID:   "api-nsk-revoked-accepted",
		File: "internal/api/node_auth.go",
		Orig: "\tcase revoked:\n",
		Repl: "\tcase false:\n",
		Pkg:  "./internal/api",
		Run:  "^TestNodeAuthentication$",
		Why:  "a deregistered node's NSK keeps its access",
	},
	{
		ID:   "api-nsk-path-unbound",
		File: "internal/api/node_auth.go",
		Orig: "if v := ctx.Param(name); v != \"\" && v != id {",
		Repl: "if v := ctx.Param(name); false && v != \"\" && v != id {",
		Pkg:  "./internal/api",
		Run:  "^TestNodeAuthentication$",
		Why:  "a node's NSK reaches another node's paths",
	},
	{
		ID:   "api-bearer-any-scheme",
		File: "internal/api/server.go",
		Orig: "if !ok || !strings.EqualFold(scheme, \"Bearer\") {",
		Repl: "if !ok || strings.EqualFold(scheme, \"\") {",
		Pkg:  "./internal/api",
		Run:  "^TestNodeAuthentication$",
		Why:  "the Authorization header's scheme is not checked",
	},
	{
		ID:   "envelope-signature-ignored",
		File: "internal/envelope/verify.go",
		Orig: "if ed25519.Verify(k.Public, msg, sig) {",
		Repl: "if ed25519.Verify(k.Public, msg, sig) || len(sig) > 0 {",
		Pkg:  "./internal/envelope",
		Run:  "^(TestVerifyRejections|TestVectorVerification)$",
		Why:  "an envelope with any signature verifies",
	},
	{
		ID:   "stream-verifier-bypassed",
		File: "internal/plexd/stream/stream.go",
		Orig: "env, err := s.opts.Verifier.VerifyJSON(f.Data)",
		Repl: "env, err := envelope.Parse(f.Data)",
		Pkg:  "./internal/plexd/stream",
		Run:  "^TestStreamDeliversOnlyVerifiedEnvelopes$",
		Why:  "plexd's stream parses event envelopes without verifying signature, freshness or nonce",
	},
	{
		ID:   "page-cursor-caller-unbound",
		File: "internal/page/page.go",
		Orig: "if p.C != c.digest(\"c\", b.Caller) {",
		Repl: "if p.C != c.digest(\"c\", b.Caller) && false {",
		Pkg:  "./internal/page",
		Run:  "^TestCursorRoundTripAndBinding$",
		Why:  "a cursor issued to one caller is accepted from another",
	},
	{
		ID:   "oidc-nonce-unchecked",
		File: "internal/oidc/callback.go",
		Orig: "if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {",
		Repl: "if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(idt.Nonce)) != 1 {",
		Pkg:  "./internal/oidc",
		Run:  "^TestCallbackRejections$",
		Why:  "an ID token minted for another sign-in (replayed nonce) is accepted",
	},
	{
		ID:   "oidc-flow-binding-unchecked",
		File: "internal/oidc/callback.go",
		Orig: "if subtle.ConstantTimeCompare([]byte(in.Flow), []byte(f.id)) != 1 {",
		Repl: "if subtle.ConstantTimeCompare([]byte(f.id), []byte(f.id)) != 1 {",
		Pkg:  "./internal/oidc",
		Run:  "^TestCallbackRejections$",
		Why:  "a sign-in started in another browser (state without its flow cookie) completes",
	},
}
