package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
)

// signIn posts an unauthenticated sign-in with the given X-Forwarded-For
// and returns the status.
func signIn(t *testing.T, e *apptest.Env, xff string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/auth/sign-in", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Issue 7 row 14: behind a trusted proxy (here loopback, which
// --trust-proxy-headers alone trusts) the per-address rate limit keys on
// the right-most untrusted X-Forwarded-For hop, so rotating a spoofed
// left-most entry does not buy a fresh bucket; a direct client that is not
// a trusted proxy cannot pick its address at all.
func TestProxyHeadersRightMostUntrustedHop(t *testing.T) {
	oneCall := func(c *config.Config) { c.PublicRateLimit, c.PublicBurst = 1, 1 }
	e := apptest.StartConfig(t, apptest.SQLite, func(c *config.Config) { oneCall(c); c.TrustProxyHeaders = true })
	if st := signIn(t, e, "198.51.100.1, 203.0.113.7"); st == http.StatusTooManyRequests {
		t.Fatalf("first call: %d", st)
	}
	if st := signIn(t, e, "198.51.100.2, 203.0.113.7"); st != http.StatusTooManyRequests {
		t.Fatalf("same client behind a new spoofed entry: %d, want 429", st)
	}
	if st := signIn(t, e, "198.51.100.2, 203.0.113.8"); st == http.StatusTooManyRequests {
		t.Fatalf("another client behind the proxy: %d, want its own bucket", st)
	}

	// The peer (loopback) is not a trusted proxy: X-Forwarded-For is ignored.
	e = apptest.StartConfig(t, apptest.SQLite, func(c *config.Config) { oneCall(c); c.TrustedProxies = []string{"192.0.2.0/24"} })
	if st := signIn(t, e, "203.0.113.7"); st == http.StatusTooManyRequests {
		t.Fatalf("first direct call: %d", st)
	}
	if st := signIn(t, e, "203.0.113.8"); st != http.StatusTooManyRequests {
		t.Fatalf("direct client naming another address: %d, want 429", st)
	}
}
