package demonodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Demo names.
const (
	ProjectSlug = "demo"
	RoleKey     = "role"
)

// roles label the demo nodes in turn, so selectors have something to show.
var roles = []string{"web", "web", "db"}

// RunOptions configures Run.
type RunOptions struct {
	// Base is the control plane's URL, AdminToken a platform admin's bearer
	// token, DomainID the Domain the nodes join.
	Base, AdminToken, DomainID string
	N                          int
	// DataDir is the control plane's data directory: identities live in
	// its demo-nodes directory.
	DataDir  string
	Progress io.Writer
	Logger   *slog.Logger
	// HeartbeatInterval defaults to 10 s.
	HeartbeatInterval time.Duration
	// SSHAccount: see Options.SSHAccount.
	SSHAccount string
}

// Run seeds the demo through the public API, as an operator would: a
// Project "demo" in the Domain (idempotent), the Domain's allow-all
// bootstrap mode (so the nodes see each other without a policy), a node
// bootstrap token when some node must enrol, and a Domain label "role"
// (web, db) on every node; and starts the nodes. It returns the running
// fleet and the demo Project's id.
func Run(ctx context.Context, o RunOptions) (*Fleet, string, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	c, err := apiclient.New(apiclient.Options{BaseURL: o.Base, Token: o.AdminToken, UserAgent: "plexsphere-dev-demo"})
	if err != nil {
		return nil, "", err
	}
	pid, err := demoProject(ctx, c, o.DomainID)
	if err != nil {
		return nil, "", fmt.Errorf("demonodes: project: %w", err)
	}
	if _, err := c.SetPolicyDefault(ctx, o.DomainID, "allow"); err != nil {
		return nil, "", fmt.Errorf("demonodes: policy default: %w", err)
	}
	fmt.Fprintf(o.Progress, "starting %d demo nodes (in-process plexd, netstack WireGuard on loopback UDP)\n", o.N)
	f, err := Start(ctx, Options{Server: o.Base, N: o.N, Dir: filepath.Join(o.DataDir, "demo-nodes"), Progress: o.Progress,
		Logger: o.Logger, HeartbeatInterval: o.HeartbeatInterval, SSHAccount: o.SSHAccount,
		Issue: func(ctx context.Context, n int) (string, error) {
			t, err := c.IssueBootstrapToken(ctx, pid, apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "dev", MaxUses: n})
			if err != nil {
				return "", err
			}
			return t.Token, nil
		}})
	if err != nil {
		return nil, "", err
	}
	def, err := roleDefinition(ctx, c, o.DomainID)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("demonodes: label definition: %w", err)
	}
	for _, n := range f.Nodes {
		if _, err := c.AssignLabel(ctx, "node", n.ID, apiv1.AssignLabel{DefinitionID: def, Value: roles[n.Index%len(roles)]}); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("demonodes: label node %s: %w", n.ID, err)
		}
	}
	fmt.Fprintf(o.Progress, "%d demo nodes up in Project %q (%s), labelled %s=web|db\n", o.N, ProjectSlug, pid, RoleKey)
	return f, pid, nil
}

// demoProject returns the Domain's demo Project, creating it when missing.
func demoProject(ctx context.Context, c *apiclient.Client, domainID string) (string, error) {
	p, err := c.CreateProject(ctx, apiv1.CreateProject{DomainID: domainID, Name: "Demo", Slug: ProjectSlug})
	if err == nil {
		return p.ID, nil
	}
	if apiclient.StatusCode(err) != http.StatusConflict {
		return "", err
	}
	opts := apiclient.ListOptions{Limit: 200}
	for {
		page, err := c.ListProjects(ctx, domainID, opts)
		if err != nil {
			return "", err
		}
		for _, p := range page.Items {
			if p.Slug == ProjectSlug {
				return p.ID, nil
			}
		}
		if page.NextCursor == "" {
			return "", errors.New("the demo Project exists but is not listed")
		}
		opts.Cursor = page.NextCursor
	}
}

// roleDefinition returns the Domain's "role" node label, creating it when
// missing.
func roleDefinition(ctx context.Context, c *apiclient.Client, domainID string) (string, error) {
	d, err := c.CreateLabelDefinition(ctx, apiv1.CreateLabelDefinition{Scope: "domain", ScopeID: domainID, LocalKey: RoleKey,
		ValueSchema: apiv1.ValueSchema{Kind: "string"}, ApplicableKinds: []string{"node"},
		Description: "Demo node role (plexsphere dev --demo-nodes)."})
	if err == nil {
		return d.ID, nil
	}
	if apiclient.StatusCode(err) != http.StatusConflict {
		return "", err
	}
	opts := apiclient.ListOptions{Limit: 200}
	for {
		page, err := c.ListLabelDefinitions(ctx, "domain:"+domainID, opts)
		if err != nil {
			return "", err
		}
		for _, d := range page.Items {
			if d.LocalKey == RoleKey {
				return d.ID, nil
			}
		}
		if page.NextCursor == "" {
			return "", errors.New("the role label exists but is not listed")
		}
		opts.Cursor = page.NextCursor
	}
}
