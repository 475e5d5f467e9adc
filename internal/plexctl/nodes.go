package plexctl

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var nodeColumns = []column[apiv1.Node]{
	{"ID", func(n apiv1.Node) string { return n.ID }},
	{"NAME", func(n apiv1.Node) string { return n.Name }},
	{"KIND", func(n apiv1.Node) string { return n.Kind }},
	{"MESH IP", func(n apiv1.Node) string { return n.MeshIP }},
	{"REACHABILITY", func(n apiv1.Node) string { return n.Reachability.State }},
	{"LAST HEARTBEAT", func(n apiv1.Node) string { return tsp(n.Reachability.LastHeartbeatAt) }},
	{"DOMAIN", func(n apiv1.Node) string { return n.DomainID }},
}

func (a *app) nodesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "nodes",
		Aliases: []string{"node"},
		Short:   "Inspect and decommission enrolled nodes",
		Example: `  plexctl nodes list
  plexctl nodes list --domain 0190c0de-… -o json
  plexctl nodes delete 0190c0de-…`,
	})
	cmd.AddCommand(a.nodesListCommand(), a.nodesGetCommand(), a.nodesRotateKeysCommand(), a.nodesReachabilityCommand(),
		a.deleteCommand(deleteSpec{use: "delete ID",
			short:   "Decommission a node: revoke its NSK and free its mesh IP",
			example: `  plexctl nodes delete 0190c0de-0000-7000-8000-000000000007`,
			kind:    "node", done: "deleted", op: "deleteNode", del: (*apiclient.Client).DeleteNode}))
	return cmd
}

func (a *app) nodesListCommand() *cobra.Command {
	var (
		pf     pageFlags
		domain string
	)
	cmd := calls(&cobra.Command{
		Use:   "list",
		Short: "List enrolled nodes with mesh IP and reachability",
		Long: `List enrolled nodes with their mesh IP and reachability.

The list operation returns summaries; plexctl reads each node of the page
for its mesh IP and reachability. A node deleted in between is left out.`,
		Example: `  plexctl nodes list
  plexctl nodes list --domain 0190c0de-0000-7000-8000-000000000001 -o yaml`,
		Args: exactArgs(),
	}, "listNodes", "getNode")
	addPageFlags(cmd, &pf)
	cmd.Flags().StringVar(&domain, "domain", "", "only nodes of this Domain id")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := fetchList(cmd.Context(), pf, func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.NodeSummary], error) {
			return c.ListNodes(ctx, domain, o)
		})
		if err != nil {
			return err
		}
		nodes, err := nodeDetails(cmd.Context(), c, l.Items)
		if err != nil {
			return err
		}
		return printList(a, &apiv1.List[apiv1.Node]{Items: nodes, NextCursor: l.NextCursor, EmptyReason: l.EmptyReason},
			nodeColumns)
	})
	return cmd
}

// nodeDetails reads the full node of each summary, skipping nodes deleted
// since the list was read.
func nodeDetails(ctx context.Context, c *apiclient.Client, rows []apiv1.NodeSummary) ([]apiv1.Node, error) {
	out := make([]apiv1.Node, 0, len(rows))
	for _, s := range rows {
		n, err := c.GetNode(ctx, s.ID)
		if apiclient.StatusCode(err) == http.StatusNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *n)
	}
	return out, nil
}

func (a *app) nodesGetCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:     "get ID",
		Short:   "Show one node: mesh IP, public key, reachability, labels",
		Example: `  plexctl nodes get 0190c0de-0000-7000-8000-000000000007 -o json`,
		Args:    exactArgs("ID"),
	}, "getNode")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		n, err := c.GetNode(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printFields(a, n, []field{
			{"ID", n.ID},
			{"Name", n.Name},
			{"Kind", n.Kind},
			{"Domain", n.DomainID},
			{"Project", n.ProjectID},
			{"Resource", n.ResourceID},
			{"Mesh IP", n.MeshIP},
			{"Public key", n.PublicKey},
			{"Reachability", n.Reachability.State},
			{"Last heartbeat", tsp(n.Reachability.LastHeartbeatAt)},
			{"Reachability since", ts(n.Reachability.ChangedAt)},
			{"Version", n.BinaryVersion},
			{"Architecture", n.Architecture},
			{"Labels", labelsText(n.Labels)},
			{"Created", ts(n.CreatedAt)},
		})
	})
	return cmd
}

// labelsText renders labels as "k=v, k=v" in key order.
func labelsText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}
