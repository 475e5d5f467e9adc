package plexctl

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var meshNodeColumns = []column[apiv1.MeshTopologyNode]{
	{"NODE", func(n apiv1.MeshTopologyNode) string { return n.NodeID }},
	{"MESH IP", func(n apiv1.MeshTopologyNode) string { return n.MeshIP }},
	{"REACHABILITY", func(n apiv1.MeshTopologyNode) string { return n.Reachability }},
}

var meshEdgeColumns = []column[apiv1.MeshEdge]{
	{"SOURCE", func(e apiv1.MeshEdge) string { return e.SourceNodeID }},
	{"TARGET", func(e apiv1.MeshEdge) string { return e.TargetNodeID }},
	{"MODE", func(e apiv1.MeshEdge) string { return e.Mode }},
	{"RELAY", func(e apiv1.MeshEdge) string { return deref(e.RelayNodeID) }},
	{"STATUS", func(e apiv1.MeshEdge) string { return e.Status }},
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *app) meshCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "mesh",
		Short: "Inspect a Domain's WireGuard mesh",
		Example: `  plexctl mesh topology --domain 0190c0de-…
  plexctl mesh topology --domain 0190c0de-… --summary
  plexctl mesh topology --domain 0190c0de-… -o json`,
	})
	cmd.AddCommand(a.meshTopologyCommand())
	return cmd
}

// meshSummaryFields are a topology's counts of its selected edges.
func meshSummaryFields(s apiv1.MeshTopologySummary) []field {
	return []field{
		{"Nodes", strconv.Itoa(s.Nodes)},
		{"Edges", strconv.Itoa(s.Edges)},
		{"Direct", strconv.Itoa(s.Direct)},
		{"Relayed", strconv.Itoa(s.Relayed)},
		{"Healthy", strconv.Itoa(s.Healthy)},
		{"Stale", strconv.Itoa(s.Stale)},
		{"Unreachable", strconv.Itoa(s.Unreachable)},
		{"Never reported", strconv.Itoa(s.NeverReported)},
	}
}

func (a *app) meshTopologyCommand() *cobra.Command {
	var (
		domain, node string
		pf           pageFlags
		summary      bool
	)
	cmd := calls(&cobra.Command{
		Use:   "topology",
		Short: "Show every node of a Domain's mesh and how each reaches each other",
		Long: `Show a Domain's mesh: its live nodes with their mesh IPs and reachability,
then one edge per ordered pair of nodes: direct, or relayed through a bridge
(RELAY names the bridge node), and whether the source's path report is
healthy, stale, unreachable or was never made.

A Domain of n nodes has n·(n−1) edges, so the server pages them (1,000 a
page by default, at most 4,000). Without --limit or --cursor, plexctl reads
every page; --node keeps the edges from or to one node; --summary prints only
the counts of the edges by mode and status.`,
		Example: `  plexctl mesh topology --domain 0190c0de-0000-7000-8000-000000000001
  plexctl mesh topology --domain 0190c0de-… --summary
  plexctl mesh topology --domain 0190c0de-… --node 0190c0de-0000-7000-8000-000000000007
  plexctl mesh topology --domain 0190c0de-… --limit 500 -o json`,
		Args: exactArgs(),
	}, "getDomainMeshTopology")
	addPageFlags(cmd, &pf)
	cmd.Flags().Lookup("limit").Usage = "fetch one page of at most this many edges (server range 1..4000)"
	cmd.Flags().StringVar(&node, "node", "", "only the edges from or to this node id")
	cmd.Flags().BoolVar(&summary, "summary", false, "print only the node and edge counts")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if pf.limit < 0 {
			return usagef("--limit must not be negative")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		opts := apiclient.TopologyOptions{NodeID: node, ListOptions: apiclient.ListOptions{Cursor: pf.cursor, Limit: pf.limit}}
		var t *apiv1.MeshTopology
		switch {
		case summary:
			opts.Limit = 1
			if t, err = c.GetMeshTopology(cmd.Context(), domain, opts); err != nil {
				return err
			}
			return printFields(a, t.Summary, meshSummaryFields(t.Summary))
		case pf.limit > 0 || pf.cursor != "":
			t, err = c.GetMeshTopology(cmd.Context(), domain, opts)
		default:
			t, err = c.MeshTopologyAll(cmd.Context(), domain, opts)
		}
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(t)
		}
		if err := writeTable(a.stdout, t.Nodes, meshNodeColumns); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout)
		if err := writeTable(a.stdout, t.Edges, meshEdgeColumns); err != nil {
			return err
		}
		if t.NextCursor != "" {
			fmt.Fprintf(a.stderr, "%d of %d edges shown; more: repeat with --cursor %s\n", len(t.Edges), t.Summary.Edges, t.NextCursor)
		}
		return nil
	})
	addDomainFlag(cmd, &domain)
	return cmd
}

// nodesReachabilityCommand shows one node's paths to its peers: the
// topology's edges leaving it (GET /v1/nodes/{id}/reachability itself is
// the node's own, authenticated with its NSK).
func (a *app) nodesReachabilityCommand() *cobra.Command {
	cmd := calls(&cobra.Command{
		Use:   "reachability ID",
		Short: "Show how a node reaches each of its peers: direct, relayed or down",
		Long: `Show how a node reaches each of its peers, as the node last reported it:
direct, or relayed through a bridge, and whether the report is current.
It reads the node's edges in its Domain's topology and keeps those leaving it.`,
		Example: `  plexctl nodes reachability 0190c0de-0000-7000-8000-000000000007
  plexctl nodes reachability 0190c0de-… -o json`,
		Args: exactArgs("ID"),
	}, "getNode", "getDomainMeshTopology")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		n, err := c.GetNode(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		edges := []apiv1.MeshEdge{}
		t, err := c.MeshTopologyAll(cmd.Context(), n.DomainID, apiclient.TopologyOptions{NodeID: n.ID})
		switch {
		case apiclient.IsCode(err, "node_not_found"):
			// Not in the mesh (yet): no mesh address, no peers.
			return printItems(a, edges, meshEdgeColumns[1:])
		case err != nil:
			return err
		}
		for _, e := range t.Edges {
			if e.SourceNodeID == n.ID {
				edges = append(edges, e)
			}
		}
		return printItems(a, edges, meshEdgeColumns[1:])
	})
	return cmd
}

var bridgeRelayFields = func(r *apiv1.BridgeRelayResponse) []field {
	return []field{
		{"Resource", r.ResourceID},
		{"Enabled", strconv.FormatBool(r.Enabled)},
		{"Listen port", strconv.Itoa(r.ListenPort)},
		{"Updated", ts(r.UpdatedAt)},
	}
}

func (a *app) bridgesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "bridges",
		Aliases: []string{"bridge"},
		Short:   "Configure bridge Resources (the relay of NAT-bound pairs)",
		Example: `  plexctl bridges relay get --project 0190c0de-… 0190c0de-…
  plexctl bridges relay set --project 0190c0de-… --enable --port 3480 0190c0de-…`,
	})
	relay := a.group(&cobra.Command{
		Use:   "relay",
		Short: "Read or set a bridge's UDP relay for pairs that cannot connect directly",
		Example: `  plexctl bridges relay get --project 0190c0de-… 0190c0de-…
  plexctl bridges relay set --project 0190c0de-… --enable --port 3480 0190c0de-…`,
	})
	relay.AddCommand(a.bridgeRelayGetCommand(), a.bridgeRelaySetCommand())
	cmd.AddCommand(relay)
	return cmd
}

func (a *app) bridgeRelayGetCommand() *cobra.Command {
	var project string
	cmd := calls(&cobra.Command{
		Use:     "get RESOURCE_ID",
		Short:   "Show a bridge Resource's relay configuration",
		Example: `  plexctl bridges relay get --project 0190c0de-… 0190c0de-0000-7000-8000-000000000009`,
		Args:    exactArgs("RESOURCE_ID"),
	}, "getBridgeRelay")
	cmd.Flags().StringVar(&project, "project", "", "Project id of the bridge Resource (required)")
	_ = cmd.MarkFlagRequired("project")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.GetBridgeRelay(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return printFields(a, r, bridgeRelayFields(r))
	})
	return cmd
}

func (a *app) bridgeRelaySetCommand() *cobra.Command {
	var (
		project         string
		enable, disable bool
		port            int
	)
	cmd := calls(&cobra.Command{
		Use:   "set RESOURCE_ID",
		Short: "Turn a bridge's relay on or off and set its UDP port",
		Long: `Replace a bridge Resource's relay configuration. With the relay on, the
control plane assigns pairs that cannot connect directly (symmetric NAT on
one side, or failed handshakes) to it; turning it off moves them to another
relay of the Domain, if any. The relay sees only WireGuard ciphertext.`,
		Example: `  plexctl bridges relay set --project 0190c0de-… --enable --port 3480 0190c0de-…
  plexctl bridges relay set --project 0190c0de-… --disable --port 3480 0190c0de-…`,
		Args: exactArgs("RESOURCE_ID"),
	}, "configureBridgeRelay")
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "Project id of the bridge Resource (required)")
	f.BoolVar(&enable, "enable", false, "turn the relay on")
	f.BoolVar(&disable, "disable", false, "turn the relay off (its port is kept)")
	f.IntVar(&port, "port", 0, "UDP port the relay listens on, 1..65535 (required)")
	_ = cmd.MarkFlagRequired("project")
	_ = cmd.MarkFlagRequired("port")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if enable == disable {
			return usagef("give exactly one of --enable or --disable")
		}
		if port < 1 || port > 65535 {
			return usagef("--port must be within 1..65535, got %d", port)
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.ConfigureBridgeRelay(cmd.Context(), project, args[0],
			apiv1.BridgeRelayConfigureRequest{Enabled: enable, ListenPort: port})
		if err != nil {
			return err
		}
		return printFields(a, r, bridgeRelayFields(r))
	})
	return cmd
}
