package plexd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/localapi"
	"github.com/plexsphere/plexsphere/internal/plexd/relay"
)

// Connection values status reports when the agent is not reachable.
const (
	ConnNotRunning = "not running"
	ConnNotJoined  = "not joined"
)

func (a *app) statusCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show node id, mesh IP, backend, connection state and peers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", output)}
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			st, err := a.status(cmd.Context(), cfg.Socket, cfg.DataDir)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(a.env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				printStatus(a.env.Stdout, st)
			}
			if st.Connection == ConnNotJoined {
				return errors.New("node has not joined")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// status asks the running agent over its socket and falls back to the
// identity file.
func (a *app) status(ctx context.Context, socket, dataDir string) (agent.Status, error) {
	if st, err := queryStatus(ctx, socket); err == nil {
		return st, nil
	}
	store, err := identity.NewStore(dataDir)
	if err != nil {
		return agent.Status{}, err
	}
	id, err := store.Load()
	if errors.Is(err, identity.ErrNotFound) {
		return agent.Status{Connection: ConnNotJoined, Backend: "none", Peers: []agent.PeerStatus{}}, nil
	}
	if err != nil {
		return agent.Status{}, err
	}
	last, _ := store.LoadCursor()
	return agent.Status{
		NodeID: id.NodeID, MeshIP: id.MeshIP, Mode: id.Mode, Backend: "none",
		Connection: ConnNotRunning, LastEventID: last, Peers: []agent.PeerStatus{},
	}, nil
}

// queryStatus reads GET /v1/agent/status from the socket.
func queryStatus(ctx context.Context, socket string) (agent.Status, error) {
	hc := &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plexd"+localapi.StatusPath, nil)
	if err != nil {
		return agent.Status{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return agent.Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return agent.Status{}, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	var st agent.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return agent.Status{}, err
	}
	if st.Peers == nil {
		st.Peers = []agent.PeerStatus{}
	}
	return st, nil
}

func printStatus(w io.Writer, st agent.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", k, v)
	}
	row("Node ID", st.NodeID)
	row("Mesh IP", st.MeshIP)
	row("Mode", st.Mode)
	row("Backend", st.Backend)
	row("Connection", st.Connection)
	if st.ProtocolLevel > 0 {
		row("Protocol", fmt.Sprintf("level %d", st.ProtocolLevel))
	}
	if st.Uptime != "" && st.Connection != ConnNotRunning && st.Connection != ConnNotJoined {
		row("Uptime", st.Uptime)
	}
	row("Last event", st.LastEventID)
	row("Peers", fmt.Sprint(len(st.Peers)))
	if p := st.Policy; p != nil {
		row("Policy", policyLine(p))
	}
	if r := st.Relay; r != nil {
		row("Relay", relayLine(r))
	}
	if ac := st.Access; ac != nil {
		row("Access", fmt.Sprintf("port %d, %d sessions, %d connections", ac.Port, ac.Sessions, ac.Connections))
	}
	if te := st.Telemetry; te != nil {
		row("Telemetry", fmt.Sprintf("%d batches queued (%d bytes), %d sent, %d records dropped",
			te.QueueBatches, te.QueueBytes, te.SentBatches, te.DroppedRecords))
	}
	tw.Flush()
	if len(st.Peers) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tMESH IP\tPATH\tENDPOINT\tHANDSHAKE\tALLOWED IPS")
	for _, p := range st.Peers {
		ep, path, hs := p.Endpoint, p.Path, "-"
		if ep == "" {
			ep = "-"
		}
		if path == "" {
			path = "-"
		}
		if p.LastHandshake != nil {
			hs = p.LastHandshake.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.MeshIP, path, ep, hs, strings.Join(p.AllowedIPs, ","))
	}
	tw.Flush()
}

// relayLine summarises the bridge relay's counters.
func relayLine(r *relay.Stats) string {
	if !r.Enabled {
		return fmt.Sprintf("off, %d sessions", r.Sessions)
	}
	return fmt.Sprintf("%s, %d sessions, %d sides bound, %d datagrams forwarded, %d dropped",
		r.ListenAddr, r.Sessions, r.BoundSides, r.ForwardedDatagrams, r.Dropped)
}
