// Package localapi serves plexd's local node API on a Unix socket
// (spec/node-protocol.md §12.8): node metadata and data, the secrets proxy
// (fetched and decrypted live, plaintext in memory only, callers checked by
// SO_PEERCRED), and node-reported entries pushed to the control plane after
// a debounce with capped-backoff retries. It adds GET /v1/agent/status
// (ours) for `plexd status`. The socket is created 0660 and never widened.
package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Limits and paths.
const (
	// SocketMode is the socket's permission: owner and group only.
	SocketMode fs.FileMode = 0o660
	// maxReportBody bounds a PUT body (§12.8: ≤ 1 MiB payload).
	maxReportBody = 1 << 20
	// StatusPath is our status route.
	StatusPath = "/v1/agent/status"
)

// Node is what the API reads from the running agent. *agent.Agent
// implements it.
type Node interface {
	View() agent.View
	Status() agent.Status
}

// Secrets fetches and decrypts a secret. *cpclient.Client implements it.
type Secrets interface {
	OpenSecret(ctx context.Context, key string) ([]byte, int64, error)
}

// Authorizer decides whether the peer on conn may read secret values.
type Authorizer func(conn net.Conn) bool

// Options configures a Server.
type Options struct {
	Node    Node     // required
	Secrets Secrets  // required
	Reports *Reports // required
	// SecretsGroup may read secret values besides root and plexd's own
	// user; SecretsGroup (plexd-secrets) when "".
	SecretsGroup string
	// MaySeeSecrets defaults to PeerCredAuthorizer(SecretsGroup).
	MaySeeSecrets Authorizer
	Logger        *slog.Logger
}

// Server is the local node API.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// New validates opts and builds the routes.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Node == nil:
		return nil, errors.New("localapi: Options.Node is required")
	case opts.Secrets == nil:
		return nil, errors.New("localapi: Options.Secrets is required")
	case opts.Reports == nil:
		return nil, errors.New("localapi: Options.Reports is required")
	}
	if opts.SecretsGroup == "" {
		opts.SecretsGroup = SecretsGroup
	}
	if opts.MaySeeSecrets == nil {
		opts.MaySeeSecrets = PeerCredAuthorizer(opts.SecretsGroup)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// Handler is the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

type connKey struct{}

// Serve listens on the Unix socket path and serves until ctx ends. A stale
// socket file is replaced; the directory is created 0755 if missing.
func (s *Server) Serve(ctx context.Context, path string) error {
	ln, err := Listen(path)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	err = srv.Serve(ln)
	os.Remove(path)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Listen creates the socket with SocketMode. It binds in a fresh 0700
// directory next to path, narrows the mode, then renames the socket into
// place, so the socket is never reachable with wider permissions.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("localapi: socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket == 0 {
		return nil, fmt.Errorf("localapi: %s exists and is not a socket", path)
	}
	tmp, err := os.MkdirTemp(dir, ".plexd-sock-")
	if err != nil {
		return nil, fmt.Errorf("localapi: socket directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	staging := filepath.Join(tmp, "s")
	ln, err := net.Listen("unix", staging)
	if err != nil {
		return nil, fmt.Errorf("localapi: listen: %w", err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the path changes below; Serve removes it
	if err := os.Chmod(staging, SocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("localapi: socket mode: %w", err)
	}
	if err := os.Rename(staging, path); err != nil { // replaces a stale socket atomically
		ln.Close()
		return nil, fmt.Errorf("localapi: socket: %w", err)
	}
	return ln, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /v1/state", s.state)
	m.HandleFunc("GET /v1/state/metadata", s.metadata)
	m.HandleFunc("GET /v1/state/metadata/{key}", s.metadataKey)
	m.HandleFunc("GET /v1/state/data", s.dataList)
	m.HandleFunc("GET /v1/state/data/{key}", s.dataKey)
	m.HandleFunc("GET /v1/state/secrets", s.secretList)
	m.HandleFunc("GET /v1/state/secrets/{key}", s.secretKey)
	m.HandleFunc("GET /v1/state/report", s.reportList)
	m.HandleFunc("GET /v1/state/report/{key}", s.reportKey)
	m.HandleFunc("PUT /v1/state/report/{key}", s.reportPut)
	m.HandleFunc("DELETE /v1/state/report/{key}", s.reportDelete)
	m.HandleFunc("GET "+StatusPath, s.status)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeErr(w, http.StatusNotFound, "not found") })
}

type dataKey struct {
	Key         string `json:"key"`
	Version     int64  `json:"version"`
	ContentType string `json:"content_type"`
}

type versionKey struct {
	Key     string `json:"key"`
	Version int64  `json:"version"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	v := s.opts.Node.View()
	writeJSON(w, http.StatusOK, map[string]any{
		"metadata":    nonNilMap(v.Metadata),
		"data_keys":   dataKeys(v.Data),
		"secret_keys": secretKeys(v.SecretRefs),
		"report_keys": s.opts.Reports.Keys(),
	})
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNilMap(s.opts.Node.View().Metadata))
}

func (s *Server) metadataKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	val, ok := s.opts.Node.View().Metadata[key]
	if !ok {
		writeErr(w, http.StatusNotFound, "metadata key not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": key, "value": val})
}

func (s *Server) dataList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, dataKeys(s.opts.Node.View().Data))
}

func (s *Server) dataKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	for _, e := range s.opts.Node.View().Data {
		if e.Key == key {
			writeJSON(w, http.StatusOK, e)
			return
		}
	}
	writeErr(w, http.StatusNotFound, "data key not found")
}

func (s *Server) secretList(w http.ResponseWriter, r *http.Request) {
	refs := s.opts.Node.View().SecretRefs
	if refs == nil {
		refs = []nodeproto.SecretRef{}
	}
	writeJSON(w, http.StatusOK, refs)
}

// secretKey fetches and decrypts live, without cache (§11.1): 404 when the
// control plane says not found, 503 for any other control-plane failure,
// 500 when the value does not decrypt (under the NSK, or with the sealing
// key at level 2). The plaintext lives in this handler's memory only.
func (s *Server) secretKey(w http.ResponseWriter, r *http.Request) {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	viaTCP, _ := r.Context().Value(tcpAuthorized{}).(bool)
	if !viaTCP && (conn == nil || !s.opts.MaySeeSecrets(conn)) {
		writeErr(w, http.StatusForbidden, "secrets are readable by root and group "+s.opts.SecretsGroup+" only")
		return
	}
	key := r.PathValue("key")
	if !nodeproto.ValidID(key) {
		writeErr(w, http.StatusNotFound, "secret not found")
		return
	}
	plain, version, err := s.opts.Secrets.OpenSecret(r.Context(), key)
	switch {
	case cpclient.IsStatus(err, http.StatusNotFound):
		writeErr(w, http.StatusNotFound, "secret not found")
		return
	case errors.Is(err, nodeproto.ErrSecretOpen), errors.Is(err, nodeproto.ErrSealedSecret):
		s.log.LogAttrs(r.Context(), slog.LevelError, "secret does not decrypt", slog.String(logkey.SecretKey, key),
			slog.String(logkey.Error, err.Error()))
		writeErr(w, http.StatusInternalServerError, "secret could not be decrypted")
		return
	case err != nil:
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "secret fetch failed", slog.String(logkey.SecretKey, key), slog.String(logkey.Error, err.Error()))
		writeErr(w, http.StatusServiceUnavailable, "control plane unavailable")
		return
	}
	defer clear(plain)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, SecretValue{Key: key, Value: string(plain), Version: version})
}

// SecretValue answers GET /v1/state/secrets/{key} (§12.8).
type SecretValue struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Version int64  `json:"version"`
}

func (s *Server) reportList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Reports.Keys())
}

func (s *Server) reportKey(w http.ResponseWriter, r *http.Request) {
	e, ok := s.opts.Reports.Get(r.PathValue("key"))
	if !ok {
		writeErr(w, http.StatusNotFound, "report key not found")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) reportPut(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !nodeproto.ValidReportKey(key) {
		writeErr(w, http.StatusBadRequest, "invalid report key")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxReportBody+4096))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "unreadable body")
		return
	}
	var body struct {
		ContentType string          `json:"content_type"`
		Payload     json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErr(w, http.StatusBadRequest, "body is not JSON")
		return
	}
	if body.ContentType == "" {
		writeErr(w, http.StatusBadRequest, "content_type is required")
		return
	}
	if len(body.Payload) > maxReportBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "payload larger than 1 MiB")
		return
	}
	if len(body.Payload) == 0 {
		body.Payload = json.RawMessage("null")
	}
	ifMatch := int64(-1)
	if h := r.Header.Get("If-Match"); h != "" {
		n, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
		if err != nil || n < 0 {
			writeErr(w, http.StatusBadRequest, "If-Match is not an integer version")
			return
		}
		ifMatch = n
	}
	e, err := s.opts.Reports.Put(key, body.ContentType, body.Payload, ifMatch)
	if errors.Is(err, ErrVersionMismatch) {
		writeErr(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) reportDelete(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !nodeproto.ValidReportKey(key) {
		writeErr(w, http.StatusBadRequest, "invalid report key")
		return
	}
	s.opts.Reports.Delete(key)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Node.Status())
}

func dataKeys(d []nodeproto.DataEntry) []dataKey {
	out := make([]dataKey, 0, len(d))
	for _, e := range d {
		out = append(out, dataKey{Key: e.Key, Version: e.Version, ContentType: e.ContentType})
	}
	slices.SortFunc(out, func(a, b dataKey) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func secretKeys(refs []nodeproto.SecretRef) []versionKey {
	out := make([]versionKey, 0, len(refs))
	for _, r := range refs {
		out = append(out, versionKey{Key: r.Key, Version: r.Version})
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
