package oidc

import (
	"net/url"
	"strings"
	"testing"
)

// browserResolve approximates how a browser resolves a Location value
// against the server's origin (WHATWG URL): leading and trailing C0 controls
// and spaces are stripped, tab and newline are removed anywhere, and a
// backslash counts as a slash in a special (http/https) URL.
func browserResolve(t *testing.T, loc string) *url.URL {
	t.Helper()
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	base, _ := url.Parse("https://plex.example/app/")
	ref, err := url.Parse(loc)
	if err != nil {
		return nil
	}
	return base.ResolveReference(ref)
}

// Issue 7 row 16: return_to must stay on this origin. "/\t/evil.example/x"
// passed the old prefix checks and browsers resolve it to
// https://evil.example/x.
func TestSafeReturnTo(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/projects/web?tab=nodes#top", "/projects/web?tab=nodes#top"},
		{"/v1/auth/device/approve?user_code=ABCD-EFGH", "/v1/auth/device/approve?user_code=ABCD-EFGH"},
		{"/%2Fok", "/"}, // decodes to "//ok": refused, however harmless
		{"/\t/evil.example/x", "/"},
		{"/\n/evil.example/x", "/"},
		{"/\r/evil.example/x", "/"},
		{"\t//evil.example/x", "/"},
		{" //evil.example/x", "/"},
		{"//evil.example/x", "/"},
		{"///evil.example/x", "/"},
		{"/\\evil.example/x", "/"},
		{"\\\\evil.example/x", "/"},
		{"/\x00/evil.example", "/"},
		{"/\x7f", "/"},
		{"/caf\u00e9", "/"},
		{"https://evil.example/x", "/"},
		{"http:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"//user@evil.example", "/"},
		{"evil.example/x", "/"},
		{"?x=1", "/"},
		{"%2F", "/"}, // a relative path, however it decodes
		{"/" + strings.Repeat("a", maxReturnTo), "/"},
	} {
		got := safeReturnTo(c.in)
		if got != c.want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", c.in, got, c.want)
		}
		if u := browserResolve(t, got); u == nil || u.Host != "plex.example" {
			t.Errorf("safeReturnTo(%q) = %q resolves off-site: %v", c.in, got, u)
		}
	}
	// The bug itself: the old answer kept the value, which a browser
	// resolves to another host.
	if u := browserResolve(t, "/\t/evil.example/x"); u == nil || u.Host != "evil.example" {
		t.Fatalf("the browser model does not reproduce the attack: %v", u)
	}
}

// FuzzSafeReturnTo: whatever comes in, what goes out is "/" or the input
// itself, printable ASCII, and resolves to this origin in a browser.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "/\t/evil.example/x", "//x", "/\\x", "https://x", " /x", "/%2F%2Fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeReturnTo(in)
		if got != "/" && got != in {
			t.Fatalf("safeReturnTo(%q) rewrote to %q", in, got)
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("safeReturnTo(%q) = %q keeps byte %#x", in, got, c)
			}
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeReturnTo(%q) = %q is not a single-slash path", in, got)
		}
		if u := browserResolve(t, got); u == nil || u.Host != "plex.example" || u.Scheme != "https" {
			t.Fatalf("safeReturnTo(%q) = %q resolves off-site: %v", in, got, u)
		}
	})
}
