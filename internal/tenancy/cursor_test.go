package tenancy_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// TestCursorsHideInvisibleRows: Issue 7 row 7: a list keys its next page on
// the last row it fetched, also one the caller may not see, and next_cursor
// was readable: a Domain admin paging through /v1/domains read the slugs and
// ids of other Domains in it. Paging one row at a time as a Domain admin of
// two of five Domains (and through the Projects of both), no cursor may
// contain any slug or id of a row the caller cannot see, and the pages must
// still return every visible row exactly once.
func TestCursorsHideInvisibleRows(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			testCursorsHideInvisibleRows(t, apptest.Start(t, b))
		})
	}
}

func testCursorsHideInvisibleRows(t *testing.T, e *apptest.Env) {
	admin, tok := e.NewUser(t, "domain-admin")
	var hidden []string // slugs and ids the Domain admin may not see
	want := map[string]bool{}
	var mine []apiv1.Domain
	for i, slug := range []string{"a-hidden", "b-mine", "c-hidden", "d-mine", "e-hidden"} {
		var d apiv1.Domain
		if st, raw := e.Do(t, "POST", "/v1/domains", apiv1.CreateDomain{Name: slug, Slug: slug,
			MeshCIDR: fmt.Sprintf("10.%d.0.0/16", 100+i)}, &d); st != 201 {
			t.Fatalf("create domain: %d %s", st, raw)
		}
		for j := range 2 {
			var p apiv1.Project
			pslug := fmt.Sprintf("%s-p%d", slug, j)
			if st, raw := e.Do(t, "POST", "/v1/projects", apiv1.CreateProject{DomainID: d.ID, Name: "P", Slug: pslug}, &p); st != 201 {
				t.Fatalf("create project: %d %s", st, raw)
			}
			if slug[2:] == "hidden" {
				hidden = append(hidden, pslug, p.ID)
			} else {
				want["project:"+p.ID] = true
			}
		}
		if slug[2:] == "hidden" {
			hidden = append(hidden, slug, d.ID)
			continue
		}
		mine = append(mine, d)
		want["domain:"+d.ID] = true
		if st, raw := e.Do(t, "POST", "/v1/authz/relation-tuples", apiv1.WriteRelationTuple{Subject: "user:" + admin,
			Relation: "admin", Resource: "domain:" + d.ID}, nil); st != 201 {
			t.Fatalf("grant: %d %s", st, raw)
		}
	}
	got := map[string]int{}
	walk := func(path, kind string) {
		t.Helper()
		cursor := ""
		for range 50 {
			q := path + "limit=1"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var page apiv1.List[struct {
				ID string `json:"id"`
			}]
			if st, raw := e.DoAs(t, tok, "GET", q, nil, &page); st != 200 {
				t.Fatalf("GET %s: %d %s", q, st, raw)
			}
			for _, it := range page.Items {
				got[kind+":"+it.ID]++
			}
			if page.NextCursor == "" {
				return
			}
			cursor = page.NextCursor
			raw, err := base64.RawURLEncoding.DecodeString(cursor)
			if err != nil {
				raw = []byte(cursor)
			}
			for _, h := range hidden {
				if bytes.Contains(raw, []byte(h)) || bytes.Contains([]byte(cursor), []byte(h)) {
					t.Errorf("GET %s: next_cursor reveals the invisible %q: %s", q, h, raw)
				}
			}
		}
		t.Fatalf("GET %s: more than 50 pages", path)
	}
	walk("/v1/domains?", "domain")
	walk("/v1/projects?", "project")
	for _, d := range mine {
		walk("/v1/projects?domain_id="+d.ID+"&", "project")
	}
	for k := range want {
		n := got[k]
		if k[:7] == "project" {
			n-- // listed twice: once unfiltered, once under its Domain
		}
		if n != 1 {
			t.Errorf("%s listed %d times in total", k, got[k])
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("%s listed but not visible", k)
		}
	}
}
