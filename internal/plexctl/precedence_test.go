package plexctl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// whoamiServer is a fake API that answers whoami.
func whoamiServer(t *testing.T) *apiclienttest.Server {
	s := apiclienttest.NewServer(t)
	s.JSON("GET /v1/auth/whoami", 200, apiv1.Whoami{PrincipalType: "user", Subject: "user:1", AMR: []string{"pwd"}})
	return s
}

// TestConnectionPrecedence checks flags > env > context for the server and
// the token, and that a context's token only goes to its own server.
func TestConnectionPrecedence(t *testing.T) {
	flagSrv, envSrv, ctxSrv, otherSrv := whoamiServer(t), whoamiServer(t), whoamiServer(t), whoamiServer(t)
	tokenFile := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(tokenFile, []byte("psk_prod_fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`current-context: main
contexts:
  - name: main
    server: %s
    token: psk_dev_ctx
  - name: other
    server: %s
    token-file: %s
`, ctxSrv.URL, otherSrv.URL, tokenFile)
	cases := []struct {
		name      string
		env       map[string]string
		args      []string
		wantSrv   *apiclienttest.Server
		wantToken string
		warn      bool
	}{
		{"context only", nil, nil, ctxSrv, "psk_dev_ctx", false},
		{"env beats context", map[string]string{envServer: envSrv.URL, envToken: "psk_dev_env"}, nil, envSrv, "psk_dev_env", false},
		{"flags beat env", map[string]string{envServer: envSrv.URL, envToken: "psk_dev_env"},
			[]string{"--server", flagSrv.URL, "--token", "psk_dev_flag"}, flagSrv, "psk_dev_flag", false},
		{"env token with context server", map[string]string{envToken: "psk_dev_env"}, nil, ctxSrv, "psk_dev_env", false},
		{"context token follows its server", map[string]string{envServer: ctxSrv.URL + "/"}, nil, ctxSrv, "psk_dev_ctx", false},
		{"context token never goes elsewhere", nil, []string{"--server", flagSrv.URL}, flagSrv, "", true},
		{"--context selects another", nil, []string{"--context", "other"}, otherSrv, "psk_prod_fromfile", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			delete(h.env, envServer)
			delete(h.env, envToken)
			for k, v := range tc.env {
				h.env[k] = v
			}
			h.writeConfig(config)
			before := len(tc.wantSrv.Requests())
			r := h.ok(append(tc.args, "whoami")...)
			reqs := tc.wantSrv.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("the expected server got %d requests", len(reqs)-before)
			}
			want := ""
			if tc.wantToken != "" {
				want = "Bearer " + tc.wantToken
			}
			if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
			if got := strings.Contains(r.stderr, "not sending the token"); got != tc.warn {
				t.Errorf("warning shown = %v, want %v (stderr %q)", got, tc.warn, r.stderr)
			}
		})
	}
}

func TestUnknownContextFails(t *testing.T) {
	h := newHarness(t)
	h.writeConfig("contexts: []\n")
	r := h.run("--context", "nope", "whoami")
	if r.code != ExitError || !strings.Contains(r.stderr, `Error: context "nope" not found in `+h.cfg) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestNoServerConfigured(t *testing.T) {
	h := newHarness(t)
	delete(h.env, envServer)
	r := h.run("domains", "list")
	if r.code != ExitError || !strings.Contains(r.stderr, "no server configured") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUserAgentNamesPlexctl(t *testing.T) {
	h := newHarness(t)
	h.srv.JSON("GET /v1/auth/whoami", 200, apiv1.Whoami{})
	h.ok("whoami")
	if ua := h.srv.Last().Header.Get("User-Agent"); !strings.HasPrefix(ua, "plexctl/") {
		t.Errorf("User-Agent = %q", ua)
	}
}
