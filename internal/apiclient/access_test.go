package apiclient

import (
	"errors"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Issue 8: GET /v1/admin/idp answers a bare JSON array (the contract's
// []IdPBindingResponse); ListIdPBindings decodes it, and still reads the
// {items} envelope of servers from before the fix.
func TestListIdPBindingsDecodesBareArray(t *testing.T) {
	one := []apiv1.IdPBinding{{ID: "b1", Issuer: "https://idp.example.com"}}
	cases := map[string]struct {
		reply any
		want  int
	}{
		"array":    {one, 1},
		"empty":    {[]apiv1.IdPBinding{}, 0},
		"null":     {nil, 0},
		"envelope": {apiv1.List[apiv1.IdPBinding]{Items: one}, 1},
	}
	for name, tc := range cases {
		srv := apiclienttest.NewServer(t)
		srv.JSON("GET /v1/admin/idp", 200, tc.reply)
		got, err := newTestClient(t, srv).ListIdPBindings(t.Context(), "d1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got == nil || len(got) != tc.want || (tc.want == 1 && got[0].Issuer != "https://idp.example.com") {
			t.Errorf("%s: got %+v", name, got)
		}
		if q := srv.Last().Pattern(); q != "GET /v1/admin/idp?domain_id=d1" {
			t.Errorf("%s: request %q", name, q)
		}
	}
	srv := apiclienttest.NewServer(t)
	srv.JSON("GET /v1/admin/idp", 200, "not a list")
	if _, err := newTestClient(t, srv).ListIdPBindings(t.Context(), ""); err == nil {
		t.Error("a string decoded as a list")
	}
}

// Issue 8: the access methods refuse an empty id before sending anything,
// so that an empty id never turns into a request on the collection.
func TestAccessMethodsRequireIDs(t *testing.T) {
	srv := apiclienttest.NewServer(t)
	c := newTestClient(t, srv)
	ctx := t.Context()
	for name, err := range map[string]error{
		"ListRelationTuples":    func() error { _, err := c.ListRelationTuples(ctx, "", ListOptions{}); return err }(),
		"DeleteRelationTuple":   c.DeleteRelationTuple(ctx, ""),
		"GetIdPBinding":         func() error { _, err := c.GetIdPBinding(ctx, " "); return err }(),
		"DeleteIdPBinding":      c.DeleteIdPBinding(ctx, ""),
		"ListServiceIdentities": func() error { _, err := c.ListServiceIdentities(ctx, "", ListOptions{}); return err }(),
		"GetServiceIdentity":    func() error { _, err := c.GetServiceIdentity(ctx, "d1", ""); return err }(),
		"UpdateServiceIdentity": func() error {
			_, err := c.UpdateServiceIdentity(ctx, "", "s1", apiv1.PatchServiceIdentity{})
			return err
		}(),
		"DeleteServiceIdentity": c.DeleteServiceIdentity(ctx, "d1", ""),
	} {
		if !errors.Is(err, ErrMissingID) {
			t.Errorf("%s: err = %v, want ErrMissingID", name, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
