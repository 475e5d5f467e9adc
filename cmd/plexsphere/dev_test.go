package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var domainLine = regexp.MustCompile(`Domain "dev"\s+([0-9a-f-]{36})`)

// runDevStack starts `plexsphere dev` in process and returns the seeded
// Domain id once the banner is printed.
func runDevStack(t *testing.T, dataDir, listen, idpListen string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	root := rootCommand(io.Discard, &out)
	root.SetArgs([]string{"dev", "--data-dir", dataDir, "--listen", listen, "--idp-listen", idpListen, "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := domainLine.FindStringSubmatch(out.String()); m != nil {
			return m[1], func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("dev exited with %v", err)
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("dev exited early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("no banner:\n%s", out.String())
	return "", nil
}

// signInDev signs a seeded user in through the development issuer's pages
// with a cookie jar and returns the client.
func signInDev(t *testing.T, base, domainID, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), base+"/v1/auth/callback") {
			return nil
		}
		if req.URL.Path == "/" && req.URL.Host == strings.TrimPrefix(base, "http://") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	body, _ := json.Marshal(map[string]string{"domain_id": domainID})
	resp, err := c.Post(base+"/v1/auth/sign-in", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	resp, err = c.Get(started.AuthorizationURL) // ends on the sign-in page
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("id")
	sel := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/select"})
	resp, err = c.PostForm(sel.String(), url.Values{"id": {id}, "user": {user}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign-in as %s ended with %d at %s", user, resp.StatusCode, resp.Request.URL)
	}
	return c
}

// TestDevStack runs `plexsphere dev`, signs alice (group dev-admins, the dev
// Domain's admin group) and bob in through the development issuer, and
// restarts on the same data directory.
func TestDevStack(t *testing.T) {
	dataDir := t.TempDir()
	listen, idpListen := freeAddr(t), freeAddr(t)
	base := "http://" + listen
	domainID, stop := runDevStack(t, dataDir, listen, idpListen)
	for user, want := range map[string]int{"alice": 200, "bob": 403} {
		c := signInDev(t, base, domainID, user)
		resp, err := c.Get(base + "/v1/domains/" + domainID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s reading the dev Domain: %d, want %d", user, resp.StatusCode, want)
		}
	}
	stop()
	again, stop := runDevStack(t, dataDir, listen, idpListen)
	defer stop()
	if again != domainID {
		t.Fatalf("restart seeded another Domain: %s vs %s", again, domainID)
	}
	signInDev(t, base, domainID, "alice")
}

func TestDevRefusesNonLoopback(t *testing.T) {
	root := rootCommand(io.Discard, io.Discard)
	root.SetArgs([]string{"dev", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("dev on 0.0.0.0: %v", err)
	}
}
