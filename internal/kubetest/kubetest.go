// Package kubetest is a faithful wire-level stand-in of exactly the part
// of the Kubernetes API that `kubectl get pods` and `kubectl get
// namespaces` use: /version, legacy discovery (/api, /apis, /api/v1),
// the namespace list and a namespace's pod list, as JSON (no Table
// negotiation, no watch, no aggregated discovery: kubectl falls back to
// legacy discovery and client-side printing, as against an older server).
// No real API server can run on the machines the tests run on.
//
// It requires a bearer token (the node's own credential) and records the
// impersonation headers of every request, which is what the tests of the
// access listener's Kubernetes proxy assert.
package kubetest

import (
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Request is what the stand-in saw of one call.
type Request struct {
	Method, Path      string
	Authorization     string
	ImpersonateUser   string
	ImpersonateGroups []string
	// Other is every other Impersonate-* header.
	Other map[string][]string
}

// Server serves the stand-in.
type Server struct {
	// Token is the bearer every call must present.
	Token string
	// Namespaces and Pods (by namespace) are the objects listed.
	Namespaces []string
	Pods       map[string][]string

	mu   sync.Mutex
	seen []Request
	srv  *http.Server
	hs   *httptest.Server
}

// ServeTLS serves HTTPS on ln until Close, with a fresh self-signed
// certificate for ln's address (as every API server serves TLS; clients
// send bearer tokens only over TLS). It returns the CA certificate (PEM)
// clients trust.
func (s *Server) ServeTLS(ln net.Listener) []byte {
	hs := httptest.NewUnstartedServer(s)
	hs.Listener.Close()
	hs.Listener = ln
	hs.StartTLS()
	s.mu.Lock()
	s.srv = hs.Config
	s.hs = hs
	s.mu.Unlock()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
}

// Close stops serving.
func (s *Server) Close() {
	s.mu.Lock()
	hs := s.hs
	s.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
}

// Seen returns the calls so far.
func (s *Server) Seen() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.seen...)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
		ImpersonateUser: r.Header.Get("Impersonate-User"), ImpersonateGroups: r.Header.Values("Impersonate-Group"),
		Other: map[string][]string{}}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "Impersonate-") && k != "Impersonate-User" && k != "Impersonate-Group" {
			rec.Other[k] = v
		}
	}
	s.mu.Lock()
	s.seen = append(s.seen, rec)
	s.mu.Unlock()
	if rec.Authorization != "Bearer "+s.Token {
		status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	if r.Method != http.MethodGet {
		status(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the stand-in only reads")
		return
	}
	switch p := strings.TrimSuffix(r.URL.Path, "/"); {
	case p == "/version":
		write(w, map[string]string{"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"})
	case p == "/api":
		write(w, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}}})
	case p == "/apis":
		write(w, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{}})
	case p == "/api/v1":
		write(w, map[string]any{"kind": "APIResourceList", "groupVersion": "v1", "resources": []map[string]any{
			{"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
				"verbs": []string{"get", "list"}, "shortNames": []string{"ns"}},
			{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
				"verbs": []string{"get", "list"}, "shortNames": []string{"po"}, "categories": []string{"all"}},
		}})
	case p == "/api/v1/namespaces":
		items := []any{}
		for _, n := range s.Namespaces {
			items = append(items, object("Namespace", n, "", map[string]any{"phase": "Active"}))
		}
		write(w, list("NamespaceList", items))
	case strings.HasPrefix(p, "/api/v1/namespaces/") && strings.HasSuffix(p, "/pods"):
		ns := strings.TrimSuffix(strings.TrimPrefix(p, "/api/v1/namespaces/"), "/pods")
		items := []any{}
		for _, n := range s.Pods[ns] {
			items = append(items, object("Pod", n, ns, map[string]any{"phase": "Running"}))
		}
		write(w, list("PodList", items))
	default:
		status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}
}

func object(kind, name, ns string, st map[string]any) map[string]any {
	meta := map[string]any{"name": name, "uid": name + "-uid", "resourceVersion": "1", "creationTimestamp": "2026-12-01T00:00:00Z"}
	if ns != "" {
		meta["namespace"] = ns
	}
	return map[string]any{"apiVersion": "v1", "kind": kind, "metadata": meta, "status": st}
}

func list(kind string, items []any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"resourceVersion": "1"}, "items": items}
}

func write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code})
}
