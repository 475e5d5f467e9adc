package access

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// KubeAPI is how plexd reaches the node's Kubernetes API.
type KubeAPI struct {
	// URL is the API server's base URL ("" disables k8s sessions).
	URL string
	// TokenFile holds plexd's bearer token for the API (re-read on every
	// call, so a rotated service-account token is picked up).
	TokenFile string
	// CAFile holds the PEM CA bundle the API server's certificate chains
	// to ("" uses the system roots).
	CAFile string
	// Transport overrides the transport built from CAFile (tests, client
	// certificates).
	Transport http.RoundTripper
}

// kubeProxy is the reverse proxy of k8s sessions.
type kubeProxy struct {
	base      *url.URL
	tokenFile string
	proxy     *httputil.ReverseProxy
}

func newKubeProxy(k KubeAPI, s *Server) (*kubeProxy, error) {
	if k.URL == "" {
		return nil, nil
	}
	u, err := url.Parse(k.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("access: Kube.URL %q is not an http(s) URL", k.URL)
	}
	tr := k.Transport
	if tr == nil {
		ht := http.DefaultTransport.(*http.Transport).Clone()
		ht.Proxy = nil
		if k.CAFile != "" {
			pem, err := os.ReadFile(k.CAFile)
			if err != nil {
				return nil, fmt.Errorf("access: Kube.CAFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("access: Kube.CAFile %s holds no PEM certificate", k.CAFile)
			}
			ht.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		tr = ht
	}
	kp := &kubeProxy{base: u, tokenFile: k.TokenFile}
	kp.proxy = &httputil.ReverseProxy{
		Rewrite:       kp.rewrite,
		Transport:     tr,
		FlushInterval: -1, // watches stream
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.LogAttrs(r.Context(), slog.LevelWarn, "kubernetes API call failed", slog.String(logkey.Error, err.Error()))
			}
			writeError(w, http.StatusBadGateway, "kube_unreachable", "the node's Kubernetes API did not answer")
		},
	}
	return kp, nil
}

// Headers a client may not send through: the proxy sets them.
func strippedHeader(name string) bool {
	return strings.EqualFold(name, "Authorization") || len(name) >= len("Impersonate-") && strings.EqualFold(name[:len("Impersonate-")], "Impersonate-")
}

// rewrite maps /v1/kube/<path> to <base><path>, removes the client's
// Authorization and Impersonate-* headers, adds the impersonation of the
// session's user and groups and the node's own credential.
func (kp *kubeProxy) rewrite(pr *httputil.ProxyRequest) {
	g := grantOf(pr.In.Context())
	out := pr.Out
	for name := range out.Header {
		if strippedHeader(name) {
			delete(out.Header, name)
		}
	}
	path, raw := kubePath(pr.In.URL)
	out.URL.Scheme, out.URL.Host = kp.base.Scheme, kp.base.Host
	out.URL.Path = strings.TrimSuffix(kp.base.Path, "/") + path
	out.URL.RawPath = ""
	if raw != "" {
		out.URL.RawPath = strings.TrimSuffix(kp.base.EscapedPath(), "/") + raw
	}
	out.Host = ""
	if g != nil {
		out.Header.Set("Impersonate-User", g.setup.Target.K8s.User)
		for _, grp := range g.setup.Target.K8s.ImpersonateGroups {
			out.Header.Add("Impersonate-Group", grp)
		}
	}
	if tok := kp.token(); tok != "" {
		out.Header.Set("Authorization", "Bearer "+tok)
	}
}

// kubePath strips KubePrefix from u's path (and raw path when set).
func kubePath(u *url.URL) (path, raw string) {
	path = strings.TrimPrefix(u.Path, KubePrefix)
	if u.RawPath != "" {
		raw = strings.TrimPrefix(u.RawPath, KubePrefix)
	}
	if path == "" {
		path = "/"
	}
	return path, raw
}

// token is plexd's bearer token for the API ("" without a token file).
func (kp *kubeProxy) token() string {
	if kp.tokenFile == "" {
		return ""
	}
	raw, err := os.ReadFile(kp.tokenFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

type grantKey struct{}

func grantOf(ctx context.Context) *grant {
	g, _ := ctx.Value(grantKey{}).(*grant)
	return g
}

// serveKube is any method on /v1/kube/…: admit the k8s session, proxy the
// call and report it.
func (s *Server) serveKube(w http.ResponseWriter, r *http.Request) {
	g, ref := s.admit(bearer(r), remoteAddr(r), endpointKube)
	if ref != nil {
		s.refused(r, ref)
		writeError(w, http.StatusUnauthorized, ref.Code, ref.Detail)
		return
	}
	if s.kube == nil {
		writeError(w, http.StatusServiceUnavailable, "kube_unavailable", "this node has no Kubernetes API configured (plexd --access-kube-api)")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), grantKey{}, g), g.deadline.Sub(s.clk.Now()))
	defer cancel()
	call := &kubeCall{cancel: cancel}
	if !s.trackCall(g, call) {
		writeError(w, http.StatusUnauthorized, CodeRevoked, "the session was revoked")
		return
	}
	defer s.untrackCall(g, call)
	start := s.clk.Now()
	sw := &statusWriter{ResponseWriter: w}
	// Deferred: the proxy aborts a stream cut short (a watch ended by
	// revocation) with panic(http.ErrAbortHandler).
	defer func() {
		info := parseKubeRequest(r.Method, r.URL)
		info.StatusCode = sw.status
		if info.StatusCode == 0 {
			info.StatusCode = http.StatusBadGateway
		}
		info.DurationMS = s.clk.Now().Sub(start).Milliseconds()
		s.activity(g.setup.SessionID, nodeproto.SessionActivity{K8s: &info})
	}()
	s.kube.proxy.ServeHTTP(sw, r.WithContext(ctx))
}

// statusWriter remembers the status code; Unwrap lets the proxy flush
// and hijack (upgrades) through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Bounds of the reported members (nodeproto.SessionActivity.Validate).
const maxKubeMember = 253

// parseKubeRequest derives verb, resource, namespace and name from a
// Kubernetes API request as the API server's request-info resolver does:
// /api/v1/… and /apis/<group>/<version>/…, namespaced or not, optional
// name and subresource, the legacy /watch/ prefix and ?watch=true; a
// non-resource path gets the lower-case method as verb.
func parseKubeRequest(method string, u *url.URL) nodeproto.K8sActivity {
	path, _ := kubePath(u)
	parts := splitPath(path)
	lower := strings.ToLower(method)
	act := nodeproto.K8sActivity{Verb: clip(lower, 32)}
	if len(parts) < 2 || (parts[0] != "api" && parts[0] != "apis") {
		return act
	}
	rest := parts[2:] // after api/<version>
	if parts[0] == "apis" {
		if len(parts) < 3 {
			return act
		}
		rest = parts[3:] // after apis/<group>/<version>
	}
	watchPrefix := false
	if len(rest) > 0 && rest[0] == "watch" {
		watchPrefix, rest = true, rest[1:]
	}
	if len(rest) >= 2 && rest[0] == "namespaces" {
		act.Namespace = rest[1]
		// namespaces/<ns>/<resource>…, but namespaces/<ns>/status and
		// /finalize are subresources of the namespace itself.
		if len(rest) > 2 && rest[2] != "status" && rest[2] != "finalize" {
			rest = rest[2:]
		}
	}
	if len(rest) == 0 {
		return act
	}
	act.ResourceKind = rest[0]
	if len(rest) >= 2 {
		act.Name = rest[1]
	}
	if len(rest) >= 3 {
		act.ResourceKind += "/" + rest[2]
	}
	act.Verb = kubeVerb(method, act.Name != "", watchPrefix || act.Name == "" && isWatch(u))
	act.ResourceKind, act.Namespace, act.Name = clip(act.ResourceKind, maxKubeMember), clip(act.Namespace, maxKubeMember), clip(act.Name, maxKubeMember)
	return act
}

// kubeVerb maps a method on a resource to the API server's verb.
func kubeVerb(method string, named, watch bool) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			return "watch"
		case named:
			return "get"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	return clip(strings.ToLower(method), 32)
}

func isWatch(u *url.URL) bool {
	v := strings.ToLower(u.Query().Get("watch"))
	return v == "true" || v == "1"
}

func splitPath(p string) []string {
	var out []string
	for part := range strings.SplitSeq(p, "/") {
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}
