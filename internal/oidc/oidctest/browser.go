package oidctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Browser is a cookie-jar client that, like a browser, keeps cookies, but
// stops at each redirect so the test sees every hop.
type Browser struct {
	c   *http.Client
	f   *Fixture
	url *url.URL
}

// Browser returns a new browser with an empty cookie jar.
func (f *Fixture) Browser(t *testing.T) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(f.URL)
	return &Browser{f: f, url: u, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// Cookie returns the value of the cookie name the control plane set, or "".
func (b *Browser) Cookie(name string) string {
	u := *b.url
	u.Path = "/v1/auth/whoami"
	for _, c := range b.c.Jar.Cookies(&u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Do sends a request; hdr adds headers. For mutations, csrf adds the
// allowed Origin and the double-submit header.
func (b *Browser) Do(t *testing.T, method, path string, body any, csrf bool, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.f.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf {
		req.Header.Set("Origin", b.f.URL)
		req.Header.Set("X-Plexsphere-CSRF", b.Cookie("plexsphere_csrf"))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return b.Send(t, req)
}

// Send sends req with the browser's cookies and returns the response with
// its body read.
func (b *Browser) Send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// StartSignIn calls POST /v1/auth/sign-in.
func (b *Browser) StartSignIn(t *testing.T, in apiv1.SignIn) apiv1.SignInStarted {
	t.Helper()
	resp, raw := b.Do(t, "POST", "/v1/auth/sign-in", in, false, nil)
	var out apiv1.SignInStarted
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || out.AuthorizationURL == "" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, raw)
	}
	return out
}

// Authorize walks the IdP: authorization endpoint → sign-in page → choose
// user and acr → back to the provider → the redirect to plexsphere's
// callback, which it returns without following.
func (b *Browser) Authorize(t *testing.T, authURL, user, acr string) string {
	t.Helper()
	resp, raw := b.DoURL(t, "GET", authURL, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s", resp.StatusCode, raw)
	}
	login, _ := resp.Location()
	id := login.Query().Get("id")
	if id == "" {
		t.Fatalf("no login redirect: %s", login)
	}
	if resp, raw = b.DoURL(t, "GET", login.String(), nil); resp.StatusCode != 200 || !strings.Contains(string(raw), "DEVELOPMENT-ONLY") {
		t.Fatalf("login page: %d %s", resp.StatusCode, raw)
	}
	form := url.Values{"id": {id}, "user": {user}, "acr": {acr}}
	next := login.ResolveReference(&url.URL{Path: "/login/select"})
	resp, raw = b.DoURL(t, "POST", next.String(), form)
	for hops := 0; resp.StatusCode == http.StatusFound && hops < 5; hops++ {
		loc, _ := resp.Location()
		if strings.HasPrefix(loc.String(), b.f.URL+"/v1/auth/callback") {
			return loc.String()
		}
		resp, raw = b.DoURL(t, "GET", loc.String(), nil)
	}
	t.Fatalf("never reached the callback: %d %s", resp.StatusCode, raw)
	return ""
}

// DoURL sends a request to the absolute URL u, with form (if not nil) as
// an application/x-www-form-urlencoded body.
func (b *Browser) DoURL(t *testing.T, method, u string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.Send(t, req)
}

// Callback follows the IdP's redirect into plexsphere as a browser (Accept
// text/html) or a JSON client.
func (b *Browser) Callback(t *testing.T, u string, asJSON bool) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if asJSON {
		req.Header.Set("Accept", "application/json")
	}
	return b.Send(t, req)
}

// SignIn is the whole browser sign-in; it fails the test unless the
// callback answers 303 to return_to with the session cookie.
func (b *Browser) SignIn(t *testing.T, in apiv1.SignIn, user, acr string) {
	t.Helper()
	started := b.StartSignIn(t, in)
	cb := b.Authorize(t, started.AuthorizationURL, user, acr)
	resp, raw := b.Callback(t, cb, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || b.Cookie("plexsphere_session") == "" {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), raw)
	}
}

// Whoami reads GET /v1/auth/whoami with the browser's cookies.
func (b *Browser) Whoami(t *testing.T) (int, apiv1.Whoami) {
	t.Helper()
	resp, raw := b.Do(t, "GET", "/v1/auth/whoami", nil, false, nil)
	var w apiv1.Whoami
	if resp.StatusCode == 200 {
		json.Unmarshal(raw, &w)
	}
	return resp.StatusCode, w
}
