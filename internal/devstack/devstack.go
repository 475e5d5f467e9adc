// Package devstack seeds the development stack that `plexsphere dev` runs
// and the dashboard's browser tests start in-process: the development
// issuer's users, a Domain "dev" bound to that issuer, and the dev-admins
// group's admin grant on it. Never used by `plexsphere serve`.
package devstack

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/devidp"
)

// Development stack names.
const (
	// ClientID is the development issuer's client for plexsphere.
	ClientID = "plexsphere-dev"
	// DomainSlug is the seeded Domain's slug.
	DomainSlug = "dev"
	// AdminsGroup is the IdP group granted admin on the dev Domain.
	AdminsGroup = "dev-admins"
)

// Users are the development issuer's seeded users; AdminsGroup is granted
// admin on the dev Domain.
var Users = []devidp.User{
	{ID: "alice", Name: "Alice Admin", Email: "alice@dev.plexsphere.test", Groups: []string{AdminsGroup}},
	{ID: "bob", Name: "Bob Member", Email: "bob@dev.plexsphere.test", Groups: []string{"dev-members"}},
}

// Seed creates the dev Domain and binds the development issuer to it (both
// idempotent), and grants the AdminsGroup group Domain admin. base is the
// control plane's URL, token a platform admin's bearer token. It returns
// the dev Domain's id.
func Seed(ctx context.Context, srv *app.Server, base, token, issuer string) (string, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path string, body, out any) (int, error) {
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if out != nil && resp.StatusCode < 300 {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				return resp.StatusCode, err
			}
		}
		return resp.StatusCode, nil
	}
	var d apiv1.Domain
	st, err := call("POST", "/v1/domains", apiv1.CreateDomain{Name: "Development", Slug: DomainSlug, MeshCIDR: "100.64.0.0/16"}, &d)
	if err != nil {
		return "", err
	}
	if st == http.StatusConflict {
		var list apiv1.List[apiv1.Domain]
		if _, err := call("GET", "/v1/domains?limit=200", nil, &list); err != nil {
			return "", err
		}
		for _, it := range list.Items {
			if it.Slug == DomainSlug {
				d = it
			}
		}
	} else if st != http.StatusCreated {
		return "", fmt.Errorf("dev: create the dev Domain: status %d", st)
	}
	if d.ID == "" {
		return "", errors.New("dev: the dev Domain was not found")
	}
	var b apiv1.IdPBinding
	st, err = call("POST", "/v1/admin/idp", apiv1.CreateIdPBinding{DomainID: d.ID, Issuer: issuer, ClientID: ClientID,
		JITPolicy: "allow", Primary: true, Alias: "dev"}, &b)
	if err != nil {
		return "", err
	}
	switch st {
	case http.StatusCreated:
	case http.StatusConflict:
		return d.ID, nil // bound on an earlier run
	default:
		return "", fmt.Errorf("dev: bind the development issuer: status %d", st)
	}
	gid, err := srv.OIDC.EnsureIdPGroup(ctx, b.ID, AdminsGroup)
	if err != nil {
		return "", err
	}
	grant := authz.Tuple{Resource: authz.ObjectRef{Type: authz.TypeDomain, ID: d.ID}, Relation: "admin",
		Subject: authz.ObjectRef{Type: authz.TypeGroup, ID: gid}.Userset("member")}
	if err := srv.DB.Tx(ctx, func(tx *sql.Tx) error { return srv.Tuples.Write(ctx, tx, []authz.Tuple{grant}, nil) }); err != nil {
		return "", err
	}
	return d.ID, srv.Tuples.Sync(ctx)
}
