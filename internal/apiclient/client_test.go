package apiclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func TestNewValidates(t *testing.T) {
	cases := []struct {
		opts Options
		want string // substring of the error
	}{
		{Options{}, "Options.BaseURL is required"},
		{Options{BaseURL: "ftp://x"}, "scheme must be http or https"},
		{Options{BaseURL: "https://"}, "host is missing"},
		{Options{BaseURL: "https://u:p@x"}, "credentials in the URL"},
		{Options{BaseURL: "https://x/?a=b"}, "query and fragment"},
		{Options{BaseURL: "https://x", Token: "psk_a\r\nX-Evil: 1"}, "Options.Token"},
		{Options{BaseURL: "https://x", UserAgent: "a\nb"}, "Options.UserAgent"},
	}
	for _, tc := range cases {
		_, err := New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.opts, err, tc.want)
		}
	}
}

func TestNewDefaultsAndBasePath(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.JSON("GET /prefix/v1/version", 200, apiv1.Version{Version: "v9"})
	c, err := New(Options{BaseURL: srv.URL + "/prefix/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != srv.URL+"/prefix" {
		t.Errorf("BaseURL = %q", c.BaseURL())
	}
	if c.timeout != DefaultTimeout {
		t.Errorf("timeout = %v", c.timeout)
	}
	v, err := c.Version(t.Context())
	if err != nil || v.Version != "v9" {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	if ua := srv.Last().Header.Get("User-Agent"); ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestIDsAreEscaped(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.JSON("GET /v1/domains/{id}", 200, apiv1.Domain{})
	c := newTestClient(t, srv)
	if _, err := c.GetDomain(t.Context(), "../auth/tokens"); err != nil {
		t.Fatal(err)
	}
	req := srv.Last()
	if req.EscapedPath != "/v1/domains/..%2Fauth%2Ftokens" || req.Path != "/v1/domains/../auth/tokens" {
		t.Errorf("path = %q (raw %q)", req.Path, req.EscapedPath)
	}
}

func TestEmptyIDIsRefusedLocally(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	c := newTestClient(t, srv)
	calls := map[string]error{
		"GetDomain":     func() error { _, err := c.GetDomain(t.Context(), ""); return err }(),
		"DeleteProject": c.DeleteProject(t.Context(), " "),
		"UnassignLabel": c.UnassignLabel(t.Context(), "resource", "r1", ""),
		"RotateToken":   func() error { _, err := c.RotateToken(t.Context(), ""); return err }(),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrMissingID) {
			t.Errorf("%s: err = %v, want ErrMissingID", name, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestProblemIsDecoded(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("DELETE /v1/domains/{id}", func(w http.ResponseWriter, r *http.Request) {
		apiclienttest.WriteProblem(w, apiv1.Problem{Status: 409, Code: "domain_not_empty", Title: "Conflict",
			Detail: "the domain still has projects", Instance: r.URL.Path,
			ChildCounts: &apiv1.ChildCounts{Projects: 2}})
	})
	err := newTestClient(t, srv).DeleteDomain(t.Context(), "d1")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *Error", err, err)
	}
	if e.Status != 409 || e.Code != "domain_not_empty" || e.Title != "Conflict" ||
		e.Detail != "the domain still has projects" || e.Instance != "/v1/domains/d1" || !e.FromProblem {
		t.Errorf("error = %+v", e)
	}
	if e.ChildCounts == nil || e.ChildCounts.Projects != 2 {
		t.Errorf("child_counts = %+v", e.ChildCounts)
	}
	if e.Type != "https://plexsphere.com/errors/domain-not-empty" {
		t.Errorf("type = %q", e.Type)
	}
	if !IsCode(err, "domain_not_empty") || IsCode(err, "other") || StatusCode(err) != 409 {
		t.Errorf("IsCode/StatusCode disagree with %v", err)
	}
	want := "apiclient: DELETE /v1/domains/d1: 409 Conflict: the domain still has projects (code domain_not_empty)"
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
}

func TestNonProblemErrorFallsBack(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("GET /v1/auth/whoami", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html>\n  upstream   down\n</html>" + strings.Repeat("x", 400)))
	})
	_, err := newTestClient(t, srv).Whoami(t.Context())
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	if e.FromProblem || e.Status != 503 || e.Title != "Service Unavailable" || e.Code != "" {
		t.Errorf("error = %+v", e)
	}
	if !strings.HasPrefix(e.Detail, "<html> upstream down </html>xxx") || !strings.HasSuffix(e.Detail, "…") ||
		len(e.Detail) > maxFallbackDetail+len("…") {
		t.Errorf("detail = %q", e.Detail)
	}
	if e.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter = %v", e.RetryAfter)
	}
}

func TestJSONErrorWithoutProblemFields(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.JSON("GET /v1/auth/whoami", 401, map[string]string{"message": "nope"})
	_, err := newTestClient(t, srv).Whoami(t.Context())
	var e *Error
	if !errors.As(err, &e) || e.FromProblem || e.Status != 401 || e.Title != "Unauthorized" {
		t.Fatalf("err = %+v", err)
	}
}

func TestTimeoutBoundsACall(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("GET /v1/auth/whoami", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c, err := New(Options{BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Whoami(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("call took %v", d)
	}
}

func TestCorruptSuccessBody(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.Handle("GET /v1/domains/{id}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("{not json"))
	})
	_, err := newTestClient(t, srv).GetDomain(t.Context(), "d1")
	if err == nil || !strings.Contains(err.Error(), "decode response") {
		t.Fatalf("err = %v", err)
	}
}
