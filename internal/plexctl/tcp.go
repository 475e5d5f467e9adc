package plexctl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// tcpOptions are the flags of 'plexctl tcp'.
type tcpOptions struct {
	project string
	local   string
	host    string
	once    bool
	ttl     time.Duration
}

// tcpForward is what 'plexctl tcp' prints once it listens (-o json).
type tcpForward struct {
	Local  string `json:"local"`
	NodeID string `json:"node_id"`
	Node   string `json:"node"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
}

func (a *app) tcpCommand() *cobra.Command {
	var o tcpOptions
	cmd := &cobra.Command{
		Use:   "tcp NODE:PORT",
		Short: "Forward a local port to a TCP port on (or behind) a node",
		Long: `Forward a local TCP port to PORT on a node, through the control plane's
session gateway: like ssh -L, without SSH.

plexctl listens on --local and, for each connection it accepts, issues a
new tcp session (a tcp session admits one connection) and relays the
connection through it. The node connects to --host:PORT (default
127.0.0.1, i.e. the node itself). NODE is a node id or name, as for
'plexctl ssh'. Once listening, plexctl prints the bound address; it runs
until interrupted (--once: until the first connection ends).

When the local client closes its side, the session ends: WebSocket has no
half-close. A denial (403) or a step-up requirement (401) stops the
forwarder with a message; other per-connection failures are reported and
the forwarder keeps listening.`,
		Example: `  plexctl tcp db-1:5432 --local 127.0.0.1:15432
  plexctl tcp web-1:8080 --host 10.0.0.7
  plexctl tcp --once -o json db-1:5432`,
		Args: exactArgs("NODE:PORT"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		ref, port, err := splitNodePort(args[0])
		if err != nil {
			return err
		}
		if o.ttl < 0 {
			return usagef("--ttl must not be negative")
		}
		if o.host == "" {
			return usagef("--host is empty")
		}
		return a.forwardTCP(cmd.Context(), o, ref, port)
	})
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "Project id: look NODE up in this Project only")
	f.StringVar(&o.local, "local", "127.0.0.1:0", "local address to listen on (port 0: any free port)")
	f.StringVar(&o.host, "host", "127.0.0.1", "host to connect to, as seen from the node")
	f.BoolVar(&o.once, "once", false, "serve one connection, then exit")
	f.DurationVar(&o.ttl, "ttl", 0, "requested lifetime of each session, e.g. 1h (server default and maximum apply)")
	return calls(cmd, "listNodes", "getNode", "IssueSession", "AttachSession", "GetSession")
}

// splitNodePort parses NODE:PORT.
func splitNodePort(s string) (string, int, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return "", 0, usagef("expected NODE:PORT, got %q", s)
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return "", 0, usagef("invalid port in %q: want 1..65535", s)
	}
	return s[:i], port, nil
}

// forwardTCP listens and relays each accepted connection through a new
// tcp session until ctx ends, a fatal refusal arrives, or (--once) the
// first connection ends.
func (a *app) forwardTCP(ctx context.Context, o tcpOptions, ref string, port int) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	node, err := resolveNode(ctx, c, ref, o.project)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.local)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.local, err)
	}
	defer ln.Close()
	fw := tcpForward{Local: ln.Addr().String(), NodeID: node.ID, Node: nodeLabel(node), Host: o.host, Port: port}
	if err := a.printForward(fw); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	relay := func(conn net.Conn) error {
		defer conn.Close()
		return a.relayTCP(ctx, c, node, o, port, conn)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause // a fatal refusal
			}
			if ctx.Err() != nil {
				return nil // interrupted: a normal end
			}
			return fmt.Errorf("accept: %w", err)
		}
		if o.once {
			ln.Close()
			return relay(conn)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := relay(conn)
			switch {
			case fatalRefusal(err):
				cancel(fmt.Errorf("stopped forwarding: %w", err))
			case err != nil && ctx.Err() == nil:
				fmt.Fprintf(a.stderr, "connection from %s: %v\n", conn.RemoteAddr(), err)
			}
		}()
	}
}

// fatalRefusal reports refusals that a retry will not cure: denied, or a
// step-up needed.
func fatalRefusal(err error) bool {
	var r refusal
	return errors.As(err, &r) && r.fatal
}

// relayTCP issues one tcp session and splices conn through it.
func (a *app) relayTCP(ctx context.Context, c *apiclient.Client, node *apiv1.Node, o tcpOptions, port int, conn net.Conn) error {
	iss, err := c.IssueSession(ctx, node.ProjectID, apiclient.IssueSessionRequest{
		ResourceID: node.ResourceID, Kind: apiclient.SessionKindTCP,
		Target:              apiclient.SessionTarget{TCP: &apiclient.TCPTarget{Host: o.host, Port: port}},
		RequestedTTLSeconds: ttlSeconds(o.ttl),
	})
	if err != nil {
		return newRefusal(err)
	}
	ws, err := c.Attach(ctx, node.ProjectID, iss.SessionID, iss.Token)
	if err != nil {
		return newRefusal(err)
	}
	if err := splice(ws, conn, conn); err != nil {
		return err
	}
	return sessionEnd(ctx, c, node.ProjectID, iss.SessionID)
}

// refusal is an explained issuance or attach error (accessError). It does
// not unwrap to the API error, so that renderError shows the explanation.
type refusal struct {
	error
	fatal bool
}

func newRefusal(err error) error {
	st := apiclient.StatusCode(err)
	return refusal{error: accessError(err), fatal: st == http.StatusForbidden || st == http.StatusUnauthorized}
}

func (a *app) printForward(fw tcpForward) error {
	if a.flags.output != formatTable {
		return a.encode(fw)
	}
	_, err := fmt.Fprintf(a.stdout, "forwarding %s → %s %s\n", fw.Local, fw.Node,
		net.JoinHostPort(fw.Host, strconv.Itoa(fw.Port)))
	return err
}
