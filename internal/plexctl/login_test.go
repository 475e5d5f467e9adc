package plexctl

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// TestLoginRefusedInTheBrowser: access_denied ends the poll with exit 1
// and saves nothing.
func TestLoginRefusedInTheBrowser(t *testing.T) {
	h := newHarness(t)
	h.env[envToken] = ""
	h.srv.JSON("POST /v1/auth/device-code", 200, apiv1.DeviceCode{DeviceCode: "psdc_x", UserCode: "ABCD-EFGH",
		VerificationURI: h.srv.URL + "/device", VerificationURIComplete: h.srv.URL + "/device?user_code=ABCD-EFGH",
		ExpiresIn: 600, Interval: 1})
	h.srv.Problem("POST /v1/auth/device-token", apiv1.Problem{Status: http.StatusBadRequest, Code: "access_denied", Title: "Bad Request"})
	r := h.run("login", "--domain", "d1")
	if r.code != ExitError || !strings.Contains(r.stderr, "ABCD-EFGH") || !strings.Contains(r.stderr, "refused in the browser") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(h.cfg); !os.IsNotExist(err) {
		t.Fatalf("a config was written: %v", err)
	}
	for _, req := range h.srv.Requests() {
		if req.Header.Get("Authorization") != "" {
			t.Fatalf("%s sent a credential", req.Pattern())
		}
	}
}

// TestEndedLoginAsksToLogInAgain: when the refresh token is refused, the
// command fails with a hint and sends no stale access token.
func TestEndedLoginAsksToLogInAgain(t *testing.T) {
	h := newHarness(t)
	h.env[envToken], h.env[envServer] = "", ""
	h.writeConfig("current-context: dev\ncontexts:\n- name: dev\n  server: " + h.srv.URL + "\n  login:\n" +
		"    access-token: psa_old\n    refresh-token: psr_old\n    expires-at: " + testNow.Add(-time.Minute).Format(time.RFC3339) + "\n")
	h.srv.Problem("POST /v1/auth/device-token", apiv1.Problem{Status: http.StatusBadRequest, Code: "invalid_grant", Title: "Bad Request"})
	r := h.run("whoami")
	if r.code != ExitError || !strings.Contains(r.stderr, "run plexctl login again") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	reqs := h.srv.Requests()
	if len(reqs) != 1 || reqs[0].Pattern() != "POST /v1/auth/device-token" || !strings.Contains(string(reqs[0].Body), `"psr_old"`) {
		t.Fatalf("requests: %v", reqs)
	}
}
