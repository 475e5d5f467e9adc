// Package baotest is a wire-level stand-in for the OpenBao HTTP API, served
// by an httptest TLS server, for testing internal/secrets/openbao. It exists
// because no OpenBao server can run on the machines these tests run on; it
// serves exactly the endpoints that package calls and nothing else, with the
// JSON shapes OpenBao 2.x answers with (request_id, lease_id, renewable,
// lease_duration, data, wrap_info, warnings, auth, mount_type; errors as
// {"errors": [...]}).
//
// Endpoints (all under /v1/):
//
//	GET    sys/health                     health codes: 200 active, 429 standby,
//	                                      503 sealed, 501 uninitialised; the
//	                                      activecode, standbycode, sealedcode,
//	                                      uninitcode and standbyok parameters
//	POST   auth/approle/login             {role_id, secret_id} → auth.client_token
//	                                      with auth.lease_duration (the token TTL)
//	GET    <kv>/data/<path>[?version=N]   read the current or a given version
//	PUT    <kv>/data/<path>               write {data, options: {cas}} (POST too)
//	GET    <kv>/metadata/<path>           current_version, versions map, …
//	DELETE <kv>/metadata/<path>           destroy every version and the metadata
//	POST   <transit>/encrypt/<key>        {plaintext: B64} → {ciphertext: "vault:v1:…"}
//	POST   <transit>/decrypt/<key>        {ciphertext} → {plaintext: B64} (PUT too)
//
// Behaviours reproduced:
//
//   - KV v2: versions count from 1 per path; check-and-set through
//     options.cas (0 = the path must not exist; a mismatch is 400 "check-and-set
//     parameter did not match the current version"); reads by version; a
//     soft-deleted or destroyed version reads as 404 whose body still carries
//     data: null and the version's metadata; a version that does not exist and
//     a path that does not exist read as 404 {"errors": []}; metadata with
//     current_version, oldest_version, created_time, updated_time,
//     max_versions, cas_required, delete_version_after, custom_metadata and a
//     versions map of {created_time, deletion_time, destroyed}; at most 10
//     versions kept (the mount default), older ones trimmed like OpenBao does;
//     DELETE metadata answers 204 whether or not the path existed.
//   - Authentication: X-Vault-Token must name a live token, else 403
//     {"errors": ["permission denied"]} (a missing, unknown or expired token
//     alike, as OpenBao answers). The root token is valid in every namespace;
//     an AppRole token only in the namespace it logged in to and below.
//     Tokens expire after their TTL (SetTokenTTL, default 1h) or at once with
//     ExpireTokens. No ACL policies are modelled: a live token may use every
//     endpoint of its namespace.
//   - AppRole: one role per namespace (AppRole, AppRoleIn); a wrong role or
//     secret id is 400 "invalid role or secret ID".
//   - Namespaces: X-Vault-Namespace selects a namespace; KV paths, transit
//     keys and roles are isolated per namespace. Namespaces need no creation
//     (sys/namespaces is not served): any name starts empty.
//   - Sealing: Seal makes every endpoint but sys/health answer 503
//     {"errors": ["Vault is sealed"]}, as does an uninitialised server.
//   - Transit: AES-256-GCM keys (aes256-gcm96) per namespace, mount and name,
//     created on first encrypt (OpenBao's upsert); ciphertext is
//     "vault:v1:" + base64(nonce ‖ sealed); version 1 only (no rotation);
//     decrypt with an unknown key, a missing prefix, bad base64 or a failed
//     authentication is 400 with OpenBao's messages. No derived keys or
//     convergent encryption (the context parameter is refused).
//
// Operator helpers (WriteOutOfBand, WriteData, DeleteVersion,
// DestroyVersion) change the store directly, as `bao kv put|delete|destroy`
// would, without a request.
package baotest

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mounts the stand-in serves by default.
const (
	DefaultKVMount      = "secret"
	DefaultTransitMount = "transit"
	approleMount        = "approle"
	maxVersions         = 10
)

// Request is one request the server answered, for assertions. It never
// holds a body, a token or any other credential.
type Request struct {
	Method    string
	Path      string // below /v1/, without the query
	Query     url.Values
	Namespace string
	Token     bool // an X-Vault-Token header was sent
	Status    int
}

// Server is the stand-in. Methods are safe for concurrent use.
type Server struct {
	t         testing.TB
	srv       *httptest.Server
	rootToken string

	// mu guards every field below.
	mu            sync.Mutex
	sealed        bool
	uninitialised bool
	standby       bool
	tokenTTL      time.Duration
	tokens        map[string]*token
	roles         map[string]*role // by namespace
	kvMounts      map[string]bool
	transitMounts map[string]bool
	kv            map[string]*kvEntry    // by namespace \x00 mount \x00 path
	transit       map[string]cipher.AEAD // by namespace \x00 mount \x00 key
	requests      []Request
	caFile        string
}

type token struct {
	namespace string
	root      bool
	expires   time.Time // zero: never
}

type role struct {
	roleID, secretID string
}

// New starts a stand-in with a KV v2 mount at "secret", a transit mount at
// "transit" and AppRole at "approle"; it stops when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		t:             t,
		rootToken:     "s." + randomID(12),
		tokenTTL:      time.Hour,
		tokens:        map[string]*token{},
		roles:         map[string]*role{},
		kvMounts:      map[string]bool{DefaultKVMount: true},
		transitMounts: map[string]bool{DefaultTransitMount: true},
		kv:            map[string]*kvEntry{},
		transit:       map[string]cipher.AEAD{},
	}
	s.tokens[s.rootToken] = &token{root: true}
	s.srv = httptest.NewTLSServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's address (https://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// Client is an *http.Client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// CACertFile writes the server's certificate as PEM to a file and returns
// its path, for a client configured with a CA file.
func (s *Server) CACertFile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.caFile == "" {
		s.caFile = filepath.Join(s.t.TempDir(), "bao-ca.pem")
		raw := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
		if err := os.WriteFile(s.caFile, raw, 0o600); err != nil {
			s.t.Fatalf("baotest: write CA file: %v", err)
		}
	}
	return s.caFile
}

// RootToken is a token valid everywhere that never expires.
func (s *Server) RootToken() string { return s.rootToken }

// AppRole returns the role and secret id of the root namespace's role.
func (s *Server) AppRole() (roleID, secretID string) { return s.AppRoleIn("") }

// AppRoleIn returns the role and secret id of the role in namespace ns,
// creating it on first use.
func (s *Server) AppRoleIn(ns string) (roleID, secretID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns = cleanNS(ns)
	r := s.roles[ns]
	if r == nil {
		r = &role{roleID: uuid(), secretID: uuid()}
		s.roles[ns] = r
	}
	return r.roleID, r.secretID
}

// SetTokenTTL sets the TTL of tokens issued by later AppRole logins.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// ExpireTokens ends every token but the root token now, as if their TTL had
// run out.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, tok := range s.tokens {
		if !tok.root {
			delete(s.tokens, k)
		}
	}
}

// Seal seals the server: everything but sys/health answers 503.
func (s *Server) Seal() { s.setFlag(&s.sealed, true) }

// Unseal undoes Seal.
func (s *Server) Unseal() { s.setFlag(&s.sealed, false) }

// SetStandby makes sys/health report a standby node.
func (s *Server) SetStandby(standby bool) { s.setFlag(&s.standby, standby) }

// SetUninitialised makes the server report itself not initialised (and so
// sealed).
func (s *Server) SetUninitialised(u bool) { s.setFlag(&s.uninitialised, u) }

func (s *Server) setFlag(f *bool, v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*f = v
}

// MountKV adds a KV v2 mount at path.
func (s *Server) MountKV(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kvMounts[strings.Trim(path, "/")] = true
}

// MountTransit adds a transit mount at path.
func (s *Server) MountTransit(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transitMounts[strings.Trim(path, "/")] = true
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServeHTTP routes one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	ns := cleanNS(r.Header.Get("X-Vault-Namespace"))
	if ok {
		s.route(rec, r, ns, path)
	} else {
		writeErrors(rec, http.StatusNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.Query(), Namespace: ns,
		Token: r.Header.Get("X-Vault-Token") != "", Status: rec.status})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, ns, path string) {
	if path == "sys/health" {
		s.health(w, r)
		return
	}
	s.mu.Lock()
	sealed := s.sealed || s.uninitialised
	s.mu.Unlock()
	if sealed {
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if path == "auth/"+approleMount+"/login" {
		s.login(w, r, ns)
		return
	}
	if !s.authorised(r.Header.Get("X-Vault-Token"), ns) {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	mount, rest, _ := strings.Cut(path, "/")
	s.mu.Lock()
	isKV, isTransit := s.kvMounts[mount], s.transitMounts[mount]
	s.mu.Unlock()
	switch {
	case isKV:
		s.serveKV(w, r, ns, mount, rest)
	case isTransit:
		s.serveTransit(w, r, ns, mount, rest)
	default:
		writeErrors(w, http.StatusNotFound, `no handler for route "`+path+`". route entry not found.`)
	}
}

// authorised reports whether tok is live and valid in namespace ns.
func (s *Server) authorised(tok, ns string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[tok]
	switch {
	case t == nil:
		return false
	case !t.expires.IsZero() && !time.Now().Before(t.expires):
		delete(s.tokens, tok)
		return false
	case t.root || t.namespace == "":
		return true
	}
	return ns == t.namespace || strings.HasPrefix(ns, t.namespace+"/")
}

// response is OpenBao's envelope for a logical response.
type response struct {
	RequestID     string         `json:"request_id"`
	LeaseID       string         `json:"lease_id"`
	Renewable     bool           `json:"renewable"`
	LeaseDuration int            `json:"lease_duration"`
	Data          map[string]any `json:"data"`
	WrapInfo      any            `json:"wrap_info"`
	Warnings      []string       `json:"warnings"`
	Auth          map[string]any `json:"auth"`
	MountType     string         `json:"mount_type"`
}

func writeResponse(w http.ResponseWriter, status int, mountType string, data, auth map[string]any) {
	writeJSON(w, status, response{RequestID: uuid(), Data: data, Auth: auth, MountType: mountType})
}

// writeErrors answers {"errors": [...]}, an empty array when none is given
// (OpenBao's 404 for a missing path).
func writeErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON object body; false (after answering 400) when it
// is not one.
func decodeBody(w http.ResponseWriter, r *http.Request, into any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 32<<20))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return false
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func cleanNS(ns string) string { return strings.Trim(ns, "/") }

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	h := randomID(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func isWrite(r *http.Request) bool { return r.Method == http.MethodPut || r.Method == http.MethodPost }

func methodNotAllowed(w http.ResponseWriter) {
	writeErrors(w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
