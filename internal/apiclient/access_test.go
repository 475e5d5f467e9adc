package apiclient

import (
	"errors"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

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
