// Package apiclienttest provides a recording stand-in of the plexsphere
// operator API for tests of API clients (apiclient, plexctl): canned
// answers per route, and a log of every request as it arrived.
//
// It is a wire-level fake, not the control plane: it knows routes only as
// the test registers them and answers anything else with a 404 problem.
package apiclienttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Request is one request as the server saw it.
type Request struct {
	Method string
	// Path is the unescaped path; EscapedPath is as sent on the wire.
	Path        string
	EscapedPath string
	Query       url.Values
	Header      http.Header
	Body        []byte
}

// Pattern is "METHOD PATH" with the path as sent, e.g.
// "GET /v1/domains?limit=5", for compact assertions.
func (r Request) Pattern() string {
	s := r.Method + " " + r.EscapedPath
	if q := r.Query.Encode(); q != "" {
		s += "?" + q
	}
	return s
}

// Server is an httptest.Server that records requests and answers from
// handlers registered with http.ServeMux patterns.
type Server struct {
	URL string

	t   testing.TB
	srv *httptest.Server
	mux *http.ServeMux

	// mu guards reqs.
	mu   sync.Mutex
	reqs []Request
}

// NewServer starts a Server, closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, mux: http.NewServeMux()}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, apiv1.Problem{Status: http.StatusNotFound, Code: "route_not_found",
			Title: "Not Found", Detail: "no fake route for " + r.Method + " " + r.URL.Path})
	})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("apiclienttest: read body: %v", err)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{
		Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(),
		Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
	})
	s.mu.Unlock()
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	s.mux.ServeHTTP(w, r)
}

// Handle registers h for an http.ServeMux pattern such as
// "GET /v1/domains/{id}".
func (s *Server) Handle(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// JSON answers pattern with status and body encoded as JSON.
func (s *Server) JSON(pattern string, status int, body any) {
	s.Handle(pattern, func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, status, body) })
}

// Status answers pattern with an empty body and status (e.g. 204).
func (s *Server) Status(pattern string, status int) {
	s.Handle(pattern, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
}

// Problem answers pattern with p as application/problem+json.
func (s *Server) Problem(pattern string, p apiv1.Problem) {
	s.Handle(pattern, func(w http.ResponseWriter, _ *http.Request) { WriteProblem(w, p) })
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Last returns the latest request; it fails the test when there is none.
func (s *Server) Last() Request {
	s.t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		s.t.Fatalf("apiclienttest: no request received")
	}
	return reqs[len(reqs)-1]
}

// WriteJSON writes body as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// WriteProblem writes p as application/problem+json, filling type and
// status the way the server does (api.md §2.3).
func WriteProblem(w http.ResponseWriter, p apiv1.Problem) {
	if p.Type == "" && p.Code != "" {
		p.Type = "https://plexsphere.com/errors/" + strings.ReplaceAll(p.Code, "_", "-")
	}
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// Pages registers a paginated GET that serves items in pages of size,
// with cursors "c1", "c2", … ; a request's limit parameter is ignored so
// that the paging is predictable.
func Pages[T any](s *Server, pattern string, size int, items []T) {
	s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
			if err != nil || !strings.HasPrefix(c, "c") {
				WriteProblem(w, apiv1.Problem{Status: 400, Code: "invalid_cursor", Title: "Bad Request"})
				return
			}
			start = n * size
		}
		end := min(start+size, len(items))
		page := apiv1.List[T]{Items: append([]T{}, items[min(start, end):end]...)}
		if end < len(items) {
			page.NextCursor = "c" + strconv.Itoa(end/size)
		}
		WriteJSON(w, http.StatusOK, page)
	})
}
