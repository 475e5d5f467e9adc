package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/config"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// served is a control plane running app.Server.Serve (the real http.Server
// and its timeouts) on a loopback port.
type served struct {
	addr, token string
	log         *syncBuffer
}

const (
	headerTimeout = 300 * time.Millisecond
	bodyTimeout   = 300 * time.Millisecond
)

func serve(t *testing.T) *served {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.ReadHeaderTimeout, cfg.ReadBodyTimeout, cfg.IdleTimeout = headerTimeout, bodyTimeout, time.Second
	// No STUN listener: the default ports may be taken by a parallel test,
	// and its ERROR log would read as this test's failure.
	cfg.STUNListen = nil
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	var w io.Writer = logs
	if os.Getenv("PLEXSPHERE_TEST_LOG") != "" {
		w = io.MultiWriter(logs, os.Stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(addr string) { ready <- addr }) }()
	s := &served{token: tok, log: logs}
	select {
	case s.addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return s
}

// dialStall opens a connection, writes head, and returns it stalled.
func (s *served) dialStall(t *testing.T, head string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *served) slowBodyHead() string { return slowBody("POST", s.token) }

// slowBody is a request head announcing 100 bytes of body and sending 10.
func slowBody(method, token string) string {
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	return method + " /v1/domains HTTP/1.1\r\nHost: x\r\n" + auth +
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":\"s"
}

// answer reads the response to a stalled request within 3 s (the test's
// deadlines are 300 ms).
func answer(t *testing.T, c net.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var p apiv1.Problem
	json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p.Code
}

// Issue 7 row 13: a client that stalls in its headers or its body is cut
// off after the configured deadlines instead of holding the connection
// (and a handler) forever: a body the operation reads is 408
// request_timeout; a body nobody reads (refused before the read, or sent
// to an operation without one) no longer keeps the answer from going out.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := serve(t)

	c := s.dialStall(t, "POST /v1/domains HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("slow headers: still open after %v", time.Since(start))
	}

	if st, code := answer(t, s.dialStall(t, slowBody("POST", s.token))); st != http.StatusRequestTimeout || code != "request_timeout" {
		t.Errorf("slow body: %d %s, want 408 request_timeout", st, code)
	}
	if st, _ := answer(t, s.dialStall(t, slowBody("POST", ""))); st != http.StatusUnauthorized {
		t.Errorf("slow body, unauthenticated: %d, want 401", st)
	}
	if st, _ := answer(t, s.dialStall(t, slowBody("GET", s.token))); st != http.StatusOK {
		t.Errorf("slow body on an operation without one: %d, want 200", st)
	}
}

// Issue 7 row 13: a client that goes away in the middle of its body is
// logged as a client abort (status 499, not an error), never as a 500
// with error=<nil>.
func TestClientAbortIsNotAServerError(t *testing.T) {
	s := serve(t)
	c := s.dialStall(t, s.slowBodyHead())
	time.Sleep(50 * time.Millisecond) // let the handler start reading the body
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log.String(), "status=499") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logs := s.log.String()
	if !strings.Contains(logs, "status=499") || strings.Contains(logs, "status=500") || strings.Contains(logs, "level=ERROR") {
		t.Fatalf("abort logged as:\n%s", logs)
	}
}

// Issue 7 row 13: the body deadline is per request, so an event stream
// keeps delivering events long after it.
func TestEventStreamOutlivesBodyDeadline(t *testing.T) {
	s := serve(t)
	base := "http://" + s.addr
	call := func(method, path, bearer string, body, out any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		json.Unmarshal(b, out)
	}
	var dom apiv1.Domain
	call("POST", "/v1/domains", s.token, apiv1.CreateDomain{Name: "d", Slug: "d", MeshCIDR: "10.100.0.0/16"}, &dom)
	call("PUT", "/v1/domains/"+dom.ID+"/policy-default", s.token, map[string]string{"policy_default": "allow"}, &struct{}{})
	var prj apiv1.Project
	call("POST", "/v1/projects", s.token, apiv1.CreateProject{DomainID: dom.ID, Name: "p", Slug: "p"}, &prj)
	var tok apiv1.IssuedBootstrapToken
	call("POST", "/v1/projects/"+prj.ID+"/bootstrap-tokens", s.token, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "test", MaxUses: 2}, &tok)
	type node struct {
		NodeID        string `json:"node_id"`
		NodeSecretKey string `json:"node_secret_key"`
	}
	register := func() node {
		pub := make([]byte, 32)
		rand.Read(pub)
		var n node
		call("POST", "/v1/register", tok.Token, map[string]string{"token": tok.Token,
			"public_key": base64.StdEncoding.EncodeToString(pub), "hostname": "h"}, &n)
		return n
	}
	a := register()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/nodes/"+a.NodeID+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+a.NodeSecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	time.Sleep(4 * bodyTimeout)
	b := register()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended before the peer event")
			}
			if strings.HasPrefix(l, "data:") && strings.Contains(l, b.NodeID) {
				return
			}
		case <-timeout:
			t.Fatal("no peer event on the stream after the body deadline")
		}
	}
}
