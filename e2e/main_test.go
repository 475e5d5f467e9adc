package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

var binDir string

// insecureClient skips certificate checks, for the self-signed lab mode.
var insecureClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plexsphere-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, prog := range []string{"plexsphere", "plexctl"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, prog), "../cmd/"+prog).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", prog, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a running plexsphere process.
type server struct {
	url, dataDir, token string
	cmd                 *exec.Cmd
	stderr              *syncBuffer
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	// mu guards b, written by os/exec's copying goroutine.
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `plexsphere serve` and waits (≤ 5 s) for /v1/health.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	addr := freePort(t)
	dir := t.TempDir()
	args := append([]string{"serve", "--data-dir", dir, "--listen", addr}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "plexsphere"), args...)
	scheme := "http://"
	for _, a := range extra {
		if a == "--tls-self-signed" {
			scheme = "https://"
		}
	}
	s := &server{url: scheme + addr, dataDir: dir, cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		resp, err := insecureClient.Get(s.url + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
				if err != nil {
					t.Fatalf("admin-token: %v", err)
				}
				fi, _ := os.Stat(filepath.Join(dir, "admin-token"))
				if fi.Mode().Perm() != 0o600 {
					t.Fatalf("admin-token mode %v, want 0600", fi.Mode().Perm())
				}
				s.token = strings.TrimSpace(string(tok))
				if !strings.Contains(s.stderr.String(), s.token) {
					t.Fatalf("the admin token was not printed once on stderr")
				}
				t.Logf("healthy after %v", time.Since(start))
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no healthy /v1/health within 5 s; stderr:\n%s", s.stderr)
	return nil
}

// run executes a built program and returns stdout, stderr and exit code.
func run(t *testing.T, env []string, prog string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, prog), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", prog, args, err)
	}
	return out.String(), errb.String(), code
}

func TestGracefulShutdown(t *testing.T) {
	s := startServer(t)
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop within 10 s of SIGTERM")
	}
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	found := false
	for sc.Scan() {
		found = found || strings.Contains(sc.Text(), "shutting down")
	}
	if !found {
		t.Fatalf("no shutdown log line:\n%s", s.stderr)
	}
}

func openSQLite(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "plexsphere.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSelfSignedTLS(t *testing.T) {
	s := startServer(t, "--tls-self-signed")
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatal("expected https")
	}
	resp, err := insecureClient.Get(s.url + "/v1/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.StatusCode != 200 {
		t.Fatalf("version over TLS: %v %d", resp.TLS, resp.StatusCode)
	}
	// Go's TLS listener answers a plaintext request with 400, never with data.
	if r, err := http.Get("http://" + strings.TrimPrefix(s.url, "https://") + "/v1/health"); err == nil {
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS port: %d", r.StatusCode)
		}
	}
}

// TestPublicRateLimit: unauthenticated mutations from one address are
// limited per the configured bucket, with an integer Retry-After.
func TestPublicRateLimit(t *testing.T) {
	s := startServer(t, "--public-rate-limit", "1", "--public-burst", "2")
	var codes []int
	for range 3 {
		resp, err := http.Post(s.url+"/v1/auth/sign-in", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			if ra := resp.Header.Get("Retry-After"); ra != "1" {
				t.Fatalf("Retry-After %q, want 1", ra)
			}
		}
	}
	if codes[0] == http.StatusTooManyRequests || codes[1] == http.StatusTooManyRequests || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v: want the burst of 2 served, the third refused", codes)
	}
	// Authenticated calls are not limited by it.
	req, _ := http.NewRequest("GET", s.url+"/v1/auth/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("whoami: %v %v", err, resp)
	}
}
