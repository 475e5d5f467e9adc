package oauth_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
	"github.com/plexsphere/plexsphere/internal/plexctl"
)

var userCodeRE = regexp.MustCompile(`^[A-Z2-7]{4}-?[A-Z2-7]{4}$`)

// ctl runs plexctl's real entry point with its config file at cfgPath.
type ctl struct {
	t       *testing.T
	cfgPath string
}

func (c ctl) env(k string) string {
	if k == "PLEXCTL_CONFIG" {
		return c.cfgPath
	}
	return ""
}

func (c ctl) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := plexctl.Run(context.Background(), args, nil, &out, &errb, c.env)
	return code, out.String(), errb.String()
}

// login runs "plexctl login" in the background and returns the
// verification URL and user code it prints, and a channel with its exit
// code and stdout.
func (c ctl) login(args ...string) (uri, code string, done <-chan [2]string) {
	c.t.Helper()
	pr, pw := io.Pipe()
	ch := make(chan [2]string, 1)
	go func() {
		var out bytes.Buffer
		rc := plexctl.Run(context.Background(), append([]string{"login"}, args...), nil, &out, pw, c.env)
		pw.Close()
		ch <- [2]string{strings.Repeat("x", rc), out.String()}
	}()
	sc := bufio.NewScanner(pr)
	for (uri == "" || code == "") && sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "To sign in, open "); ok {
			uri = u
		}
		if rest, ok := strings.CutPrefix(line, "and confirm the code "); ok {
			code, _, _ = strings.Cut(rest, " ")
		}
	}
	go io.Copy(io.Discard, pr)
	if uri == "" || code == "" {
		c.t.Fatalf("plexctl login printed no URL and code")
	}
	return uri, code, ch
}

// editLogin changes the saved login of the only context.
func editLogin(t *testing.T, path string, edit func(login map[string]any)) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	ctxs := cfg["contexts"].([]any)
	login, _ := ctxs[0].(map[string]any)["login"].(map[string]any)
	if edit != nil && login != nil {
		edit(login)
		out, _ := yaml.Marshal(cfg)
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return login
}

// TestPlexctlDeviceLogin drives "plexctl login" through plexctl.Run against
// the real control plane; a cookie-jar browser signed in through the
// development IdP approves the code. The login is saved 0600, whoami uses
// it, an expired access token is refreshed transparently, --token wins,
// and logout revokes the login on the server.
func TestPlexctlDeviceLogin(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			dom := f.Domain(t, "acme", "100.64.0.0/16")
			bnd := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: dom})
			c := ctl{t: t, cfgPath: filepath.Join(t.TempDir(), "plexctl", "config.yaml")}

			uri, code, done := c.login("--server", f.URL, "--domain", dom)
			if u, err := url.Parse(uri); err != nil || !userCodeRE.MatchString(code) || u.Path != "/device" ||
				u.Query().Get("user_code") != code || u.Query().Get("idp_binding_id") != bnd.ID || !strings.HasPrefix(uri, f.URL) {
				t.Fatalf("printed %q, code %q", uri, code)
			}
			br := f.Browser(t)
			br.SignIn(t, apiv1.SignIn{DomainID: dom}, "alice", devidp.ACRBasic)
			approve := apiv1.DeviceApprove{UserCode: code}
			// Approval is a cookie mutation: CSRF applies, bearers are refused.
			if resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", approve, false, map[string]string{"Origin": f.URL}); resp.StatusCode != 403 || oidctest.ProblemCode(t, raw) != "csrf_token_mismatch" {
				t.Fatalf("approve without CSRF: %d %s", resp.StatusCode, raw)
			}
			if st, raw := f.Do(t, "POST", "/v1/auth/device/approve", approve, nil); st != 401 || oidctest.ProblemCode(t, raw) != "unauthenticated" {
				t.Fatalf("bearer approve: %d %s", st, raw)
			}
			if resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: "AAAA-AAAA"}, true, nil); resp.StatusCode != 404 || oidctest.ProblemCode(t, raw) != "device_code_not_found" {
				t.Fatalf("unknown code: %d %s", resp.StatusCode, raw)
			}
			if resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", apiv1.DeviceApprove{UserCode: strings.ToLower(code)}, true, nil); resp.StatusCode != 200 || !strings.Contains(string(raw), `"approved"`) {
				t.Fatalf("approve: %d %s", resp.StatusCode, raw)
			}
			if resp, raw := br.Do(t, "POST", "/v1/auth/device/approve", approve, true, nil); resp.StatusCode != 409 || oidctest.ProblemCode(t, raw) != "device_code_already_approved" {
				t.Fatalf("second approve: %d %s", resp.StatusCode, raw)
			}
			var res [2]string
			select {
			case res = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("plexctl login did not finish")
			}
			if res[0] != "" || !strings.Contains(res[1], "Logged in to "+f.URL) {
				t.Fatalf("login: exit %d, %q", len(res[0]), res[1])
			}
			st, err := os.Stat(c.cfgPath)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("config file: %v %v", st, err)
			}
			first := editLogin(t, c.cfgPath, nil)
			access1, refresh1 := first["access-token"].(string), first["refresh-token"].(string)
			if !strings.HasPrefix(access1, "psa_") || !strings.HasPrefix(refresh1, "psr_") {
				t.Fatalf("saved login: %v", first)
			}

			// whoami runs as the approving user.
			_, alice := br.Whoami(t)
			whoami := func() (int, apiv1.Whoami, string) {
				rc, out, errs := c.run("-o", "json", "whoami")
				var w apiv1.Whoami
				json.Unmarshal([]byte(out), &w)
				return rc, w, errs
			}
			if rc, w, errs := whoami(); rc != 0 || w.Subject != alice.Subject || w.PrincipalType != "user" {
				t.Fatalf("whoami: %d %+v %s (want %s)", rc, w, errs, alice.Subject)
			}

			// Expire the access token on both sides: plexctl refreshes it.
			if _, err := f.Server.DB.Exec(`UPDATE oauth_tokens SET access_expires_at = 1`); err != nil {
				t.Fatal(err)
			}
			if st, _ := f.DoAs(t, access1, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("expired access token: %d", st)
			}
			editLogin(t, c.cfgPath, func(l map[string]any) { l["expires-at"] = "2001-01-01T00:00:00Z" })
			if rc, w, errs := whoami(); rc != 0 || w.Subject != alice.Subject {
				t.Fatalf("whoami after expiry: %d %+v %s", rc, w, errs)
			}
			second := editLogin(t, c.cfgPath, nil)
			access2, refresh2 := second["access-token"].(string), second["refresh-token"].(string)
			if access2 == access1 || refresh2 == refresh1 || !strings.HasPrefix(access2, "psa_") {
				t.Fatalf("not refreshed: %v", second)
			}
			if st, _ := f.DoAs(t, access2, "GET", "/v1/auth/whoami", nil, nil); st != 200 {
				t.Fatalf("refreshed token: %d", st)
			}

			// --token wins over the saved login.
			rc, out, _ := c.run("-o", "json", "--token", f.Token, "whoami")
			var admin apiv1.Whoami
			if json.Unmarshal([]byte(out), &admin); rc != 0 || admin.Subject == alice.Subject || admin.Subject == "" {
				t.Fatalf("--token whoami: %d %s", rc, out)
			}

			// logout revokes on the server and forgets the tokens.
			if rc, out, errs := c.run("logout"); rc != 0 || !strings.Contains(out, "Logged out") {
				t.Fatalf("logout: %d %s %s", rc, out, errs)
			}
			if l := editLogin(t, c.cfgPath, nil); l != nil {
				t.Fatalf("login kept after logout: %v", l)
			}
			if st, _ := f.DoAs(t, access2, "GET", "/v1/auth/whoami", nil, nil); st != 401 {
				t.Fatalf("access token after logout: %d", st)
			}
			if st, raw := f.DoAs(t, "", "POST", "/v1/auth/device-token", apiv1.DeviceTokenRequest{GrantType: "refresh_token", RefreshToken: refresh2}, nil); st != 400 || oidctest.ProblemCode(t, raw) != "invalid_grant" {
				t.Fatalf("refresh after logout: %d %s", st, raw)
			}
			if rc, _, _ := c.run("whoami"); rc != 1 {
				t.Fatalf("whoami after logout: exit %d", rc)
			}
			f.NoSecrets(t, access1, refresh1, access2, refresh2)
		})
	}
}
