package session

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSecureAndCookies(t *testing.T) {
	direct := &Service{ttl: time.Hour}
	proxied := &Service{ttl: time.Hour, proxy: true}
	for _, c := range []struct {
		s     *Service
		tls   bool
		proto string
		want  bool
	}{
		{direct, true, "", true},
		{direct, false, "", false},
		{direct, false, "https", false}, // proxy headers not trusted
		{proxied, false, "https", true},
		{proxied, false, "HTTPS, http", true},
		{proxied, false, "http", false},
	} {
		if got := c.s.Secure(c.tls, c.proto); got != c.want {
			t.Errorf("Secure(%v, %q) with proxy=%v = %v", c.tls, c.proto, c.s.proxy, got)
		}
	}
	cs := direct.Cookies(Created{Value: "pss_x", CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}, true)
	sess, csrf := cs[0].String(), cs[1].String()
	for _, attr := range []string{"plexsphere_session=pss_x", "Path=/v1/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(sess, attr) {
			t.Errorf("session cookie %q lacks %s", sess, attr)
		}
	}
	if strings.Contains(csrf, "HttpOnly") || !strings.Contains(csrf, "Secure") || !strings.Contains(csrf, "Path=/") {
		t.Errorf("csrf cookie %q", csrf)
	}
	cleared := ClearCookies(false)
	if cleared[0].MaxAge >= 0 || cleared[0].Name != CookieName || cleared[1].Value == "" || cleared[1].SameSite != http.SameSiteStrictMode {
		t.Errorf("cleared: %+v", cleared)
	}
}

func TestCSRFTokenBinding(t *testing.T) {
	s := &Service{csrfKey: []byte(strings.Repeat("k", 32))}
	other := &Service{csrfKey: []byte(strings.Repeat("o", 32))}
	a, b := s.CSRFToken("pss_a"), s.CSRFToken("pss_b")
	if a == b || !s.CSRFMatches("pss_a", a) || s.CSRFMatches("pss_b", a) || other.CSRFMatches("pss_a", a) || s.CSRFMatches("pss_a", "") {
		t.Fatal("the CSRF token is not bound to the session and the server key")
	}
	if IsSessionValue("psk_dev_x") || !IsSessionValue("pss_x") || IsSessionValue("pss_"+strings.Repeat("x", 200)) {
		t.Fatal("IsSessionValue")
	}
}
