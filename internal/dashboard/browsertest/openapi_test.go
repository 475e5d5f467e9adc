package browsertest

import (
	"strings"
	"testing"
)

func TestOperationsMatch(t *testing.T) {
	ops, err := ParseOperations(strings.NewReader(`{"paths": {
		"/v1/domains": {"get": {}, "post": {}},
		"/v1/domains/{id}": {"get": {}, "parameters": []},
		"/v1/domains/{domainId}/audit/entries": {"get": {}},
		"/v1/domains/{domainId}/audit/entries:export": {"get": {}},
		"/v1/domains/{domainId}/audit/entries/{seq}": {"get": {}},
		"/v1/auth/whoami": {"get": {}, "delete": {}}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/v1/domains", "/v1/domains"},
		{"POST", "/v1/domains", "/v1/domains"},
		{"DELETE", "/v1/domains", ""},
		{"GET", "/v1/domains/0192", "/v1/domains/{id}"},
		{"PATCH", "/v1/domains/0192", ""},
		{"GET", "/v1/domains/0192/audit/entries", "/v1/domains/{domainId}/audit/entries"},
		{"GET", "/v1/domains/0192/audit/entries:export", "/v1/domains/{domainId}/audit/entries:export"},
		{"GET", "/v1/domains/0192/audit/entries/7", "/v1/domains/{domainId}/audit/entries/{seq}"},
		{"GET", "/v1/domains//audit/entries", ""},
		{"GET", "/v1/domains/a/b", ""},
		{"GET", "/v1/private/thing", ""},
		{"delete", "/v1/auth/whoami", "/v1/auth/whoami"},
	} {
		if got := ops.Match(c.method, c.path); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, got, c.want)
		}
	}
	if _, err := ParseOperations(strings.NewReader(`{"paths": {}}`)); err == nil {
		t.Error("a document without operations was accepted")
	}
}
