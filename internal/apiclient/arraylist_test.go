package apiclient

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// bareArrayPages serves items as the contract's bare array in pages of
// size, naming the next page in X-Next-Cursor and Link (cursors c1, c2…).
func bareArrayPages[T any](s *apiclienttest.Server, pattern, path string, size int, items []T) {
	s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			n, _ := strconv.Atoi(strings.TrimPrefix(c, "c"))
			start = n * size
		}
		end := min(start+size, len(items))
		if end < len(items) {
			next := "c" + strconv.Itoa(end/size)
			w.Header().Set("X-Next-Cursor", next)
			w.Header().Set("Link", "<"+path+"?cursor="+next+">; rel=\"next\"")
		}
		apiclienttest.WriteJSON(w, http.StatusOK, append([]T{}, items[min(start, end):end]...))
	})
}

// Issue 8 rows "GET /v1/auth/tokens" and "GET /v1/admin/idp": the server
// answers the contract's bare array and names the next page in headers;
// ListTokens and ListIdPBindingsPage decode the array and page through
// X-Next-Cursor (decoding the old {items} envelope failed on an array).
func TestIssue8BareArrayListsPage(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	tokens := []apiv1.APIToken{{ID: "t0"}, {ID: "t1"}, {ID: "t2"}}
	bindings := []apiv1.IdPBinding{{ID: "b0"}, {ID: "b1"}, {ID: "b2"}}
	bareArrayPages(srv, "GET /v1/auth/tokens", "/v1/auth/tokens", 2, tokens)
	bareArrayPages(srv, "GET /v1/admin/idp", "/v1/admin/idp", 2, bindings)
	c := newTestClient(t, srv)
	gotT, err := Collect(t.Context(), ListOptions{}, c.ListTokens)
	if err != nil || len(gotT) != 3 || gotT[2].ID != "t2" {
		t.Fatalf("tokens: %v %+v", err, gotT)
	}
	page, err := c.ListIdPBindingsPage(t.Context(), "d1", ListOptions{Limit: 2})
	if err != nil || len(page.Items) != 2 || page.NextCursor != "c1" {
		t.Fatalf("bindings page: %v %+v", err, page)
	}
	if got := srv.Last().Pattern(); got != "GET /v1/admin/idp?domain_id=d1&limit=2" {
		t.Errorf("request = %q", got)
	}
	var seen []string
	for _, r := range srv.Requests() {
		seen = append(seen, r.Pattern())
	}
	want := []string{"GET /v1/auth/tokens", "GET /v1/auth/tokens?cursor=c1", "GET /v1/admin/idp?domain_id=d1&limit=2"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("requests = %q, want %q", seen, want)
	}
}

// The {items, next_cursor} envelope of servers before issue 8 still
// decodes, and an empty array is an empty page.
func TestArrayPageAcceptsEnvelopeAndEmpty(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.JSON("GET /v1/auth/tokens", 200, apiv1.List[apiv1.APIToken]{Items: []apiv1.APIToken{{ID: "t0"}}, NextCursor: "x"})
	srv.JSON("GET /v1/admin/idp", 200, []apiv1.IdPBinding{})
	c := newTestClient(t, srv)
	if l, err := c.ListTokens(t.Context(), ListOptions{}); err != nil || len(l.Items) != 1 || l.NextCursor != "x" {
		t.Fatalf("envelope: %v %+v", err, l)
	}
	if l, err := c.ListIdPBindingsPage(t.Context(), "", ListOptions{}); err != nil || l.Items == nil || len(l.Items) != 0 || l.NextCursor != "" {
		t.Fatalf("empty: %v %+v", err, l)
	}
}
