package enroll_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// countingBody records how many bytes the server read from a request body;
// started is closed on the first read.
type countingBody struct {
	r       io.Reader
	n       atomic.Int64
	once    sync.Once
	started chan struct{}
}

func newCountingBody(r io.Reader) *countingBody {
	return &countingBody{r: r, started: make(chan struct{})}
}

func (c *countingBody) Read(p []byte) (int, error) {
	c.once.Do(func() { close(c.started) })
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

var addrSeq atomic.Int64

// serve sends one registration through the whole control plane's handler
// in-process, so the test sees exactly what the server read of body; each
// call comes from its own client address (the per-address rate limit is
// not the subject).
func (e *env) serve(headers map[string]string, body io.ReadCloser) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/register", body)
	req.ContentLength = -1
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	n := addrSeq.Add(1)
	req.RemoteAddr = fmt.Sprintf("198.18.%d.%d:4242", n/250%250, n%250+1)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// gzipBomb is a gzip body that inflates to a registration of about n bytes.
func gzipBomb(token, key string, n int) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(`{"token":` + quote(token) + `,"public_key":"` + key + `","hostname":"` + strings.Repeat("h", n) + `"}`))
	zw.Close()
	return b.Bytes()
}

// Issue 7 row 4: POST /v1/register checks the bearer token before it reads
// the body (a bad token answers 401 with the body unread, a gzip bomb
// included), inflates at most 64 KiB (413 beyond, even with a valid
// token), and bounds concurrent body reads without a bearer (429 with
// Retry-After beyond). On both databases.
func TestRegisterGate(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := start(t, b)
			f := e.fixture(t, "gate", "100.90.0.0/16", "")
			tok := e.issue(t, f.project.ID, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "prod", MaxUses: 5}).Token
			unknown := tok[:len(tok)-48] + strings.Repeat("a", 48) // well-formed, no such lookup id
			wrong := tok[:len(tok)-4] + "aaaa"                     // a real lookup id, wrong secret
			if wrong == tok {
				wrong = tok[:len(tok)-4] + "bbbb"
			}
			for name, bearer := range map[string]string{"garbage": "nope", "unknown lookup": unknown, "wrong secret": wrong} {
				t.Run(name, func(t *testing.T) {
					// 8 MiB inflated, carrying the bearer as its token.
					body := newCountingBody(bytes.NewReader(gzipBomb(bearer, newKey(), 8<<20)))
					h := agentHeaders(bearer)
					h["Content-Encoding"] = "gzip"
					h["X-Plexd-Protocol"] = "2"
					rec := e.serve(h, body)
					wantProblem(t, rec.Code, rec.Body.Bytes(), 401, nodeproto.CodeInvalidToken)
					if n := body.n.Load(); n != 0 {
						t.Fatalf("the server read %d body bytes before rejecting the token", n)
					}
					if rec.Header().Get("X-Plexsphere-Protocol") != "2" {
						t.Fatalf("N3: %v", rec.Header())
					}
				})
			}

			// With a valid token the bomb is cut at the inflated ceiling.
			h := agentHeaders(tok)
			h["Content-Encoding"] = "gzip"
			rec := e.serve(h, io.NopCloser(bytes.NewReader(gzipBomb(tok, newKey(), 65<<10))))
			wantProblem(t, rec.Code, rec.Body.Bytes(), 413, "request_body_too_large")
			rec = e.serve(h, io.NopCloser(bytes.NewReader(gzipBomb(tok, newKey(), 60<<10))))
			if rec.Code != 200 {
				t.Fatalf("a registration under the ceiling: %d %s", rec.Code, rec.Body)
			}

			// Bodies read before their token is known (no bearer) are
			// bounded: with every slot held by a slow body, one more is
			// 429 at once, with Retry-After, and its body is not read.
			var (
				wg    sync.WaitGroup
				pipes []*io.PipeWriter
			)
			for range enroll.DefaultRegisterConcurrency {
				pr, pw := io.Pipe()
				pipes = append(pipes, pw)
				body := newCountingBody(pr)
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.serve(map[string]string{"Content-Type": "application/json"}, body)
				}()
				<-body.started
			}
			extra := newCountingBody(strings.NewReader(`{"bootstrap_token":` + quote(tok) + `,"public_key":"` + newKey() + `"}`))
			rec = e.serve(map[string]string{"Content-Type": "application/json"}, extra)
			wantProblem(t, rec.Code, rec.Body.Bytes(), 429, nodeproto.CodeRateLimited)
			if rec.Header().Get("Retry-After") == "" || extra.n.Load() != 0 {
				t.Fatalf("429 without Retry-After or with the body read (%d bytes)", extra.n.Load())
			}
			// An agent (bearer) is not held up by them.
			if rec := e.serve(agentHeaders(tok), io.NopCloser(strings.NewReader(`{"token":`+quote(tok)+
				`,"public_key":"`+newKey()+`","hostname":"a"}`))); rec.Code != 200 {
				t.Fatalf("an agent behind anonymous bodies: %d %s", rec.Code, rec.Body)
			}
			for _, pw := range pipes {
				pw.CloseWithError(io.ErrUnexpectedEOF)
			}
			wg.Wait()
			// The slots are free again.
			rec = e.serve(map[string]string{"Content-Type": "application/json"},
				io.NopCloser(strings.NewReader(`{"bootstrap_token":`+quote(tok)+`,"public_key":"`+newKey()+`"}`)))
			if rec.Code != 200 {
				t.Fatalf("contract form after the burst: %d %s", rec.Code, rec.Body)
			}
		})
	}
}
