package apiclient

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func domains(n int) []apiv1.Domain {
	out := make([]apiv1.Domain, n)
	for i := range out {
		out[i] = apiv1.Domain{ID: fmt.Sprintf("d%d", i), Slug: fmt.Sprintf("s%02d", i)}
	}
	return out
}

func TestItemsFollowsCursors(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	apiclienttest.Pages(srv, "GET /v1/domains", 2, domains(5))
	c := newTestClient(t, srv)
	got, err := Collect(t.Context(), ListOptions{Limit: 2}, c.ListDomains)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[4].ID != "d4" {
		t.Fatalf("items = %+v", got)
	}
	var seen []string
	for _, r := range srv.Requests() {
		seen = append(seen, r.Pattern())
	}
	want := []string{"GET /v1/domains?limit=2", "GET /v1/domains?cursor=c1&limit=2", "GET /v1/domains?cursor=c2&limit=2"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("requests = %q, want %q", seen, want)
	}
}

func TestItemsStopsWhenTheConsumerBreaks(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	apiclienttest.Pages(srv, "GET /v1/domains", 2, domains(6))
	c := newTestClient(t, srv)
	n := 0
	for _, err := range Items(t.Context(), ListOptions{}, c.ListDomains) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if got := len(srv.Requests()); got != 2 {
		t.Errorf("%d pages fetched for 3 items, want 2", got)
	}
}

func TestPagesDetectsCursorLoop(t *testing.T) {
	calls := 0
	fetch := func(_ context.Context, opts ListOptions) (*apiv1.List[int], error) {
		calls++
		if calls > 10 {
			t.Fatal("pager did not stop")
		}
		return &apiv1.List[int]{Items: []int{calls}, NextCursor: "same"}, nil
	}
	got, err := Collect(t.Context(), ListOptions{}, fetch)
	if !errors.Is(err, ErrCursorLoop) {
		t.Fatalf("err = %v, want ErrCursorLoop", err)
	}
	if len(got) != 2 {
		t.Errorf("items before the loop = %v", got)
	}
}

func TestPagesYieldsFetchError(t *testing.T) {
	boom := errors.New("boom")
	fetch := func(_ context.Context, opts ListOptions) (*apiv1.List[int], error) {
		if opts.Cursor == "" {
			return &apiv1.List[int]{Items: []int{1}, NextCursor: "n"}, nil
		}
		return nil, boom
	}
	got, err := Collect(t.Context(), ListOptions{}, fetch)
	if !errors.Is(err, boom) || len(got) != 1 {
		t.Fatalf("Collect = %v, %v", got, err)
	}
}

func TestPagesHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	fetch := func(context.Context, ListOptions) (*apiv1.List[int], error) {
		t.Fatal("fetch called after cancel")
		return nil, nil
	}
	if _, err := Collect(ctx, ListOptions{}, fetch); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestAuditListFallsBackToEntriesAlias(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	srv.JSON("GET /v1/platform/audit/entries", 200, map[string]any{
		"entries": []apiv1.AuditEntry{{Seq: 1}, {Seq: 2}}, "next_cursor": "",
	})
	c := newTestClient(t, srv)
	got, err := Collect(t.Context(), ListOptions{}, c.AuditPages(PlatformChain(), AuditFilter{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Seq != 2 {
		t.Errorf("entries = %+v", got)
	}
}

func TestZeroChainIsRefused(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	_, err := newTestClient(t, srv).ListAuditEntries(t.Context(), Chain{}, AuditFilter{}, ListOptions{})
	if err == nil || len(srv.Requests()) != 0 {
		t.Fatalf("err = %v, requests = %d", err, len(srv.Requests()))
	}
}
