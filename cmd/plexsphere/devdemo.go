package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"sync"

	"github.com/plexsphere/plexsphere/internal/demonodes"
	"github.com/plexsphere/plexsphere/internal/plexd/gateway"
)

// devDemo holds the demo nodes of `plexsphere dev --demo-nodes N`.
type devDemo struct {
	// ssh runs the nodes' access listeners (--demo-ssh), reached through
	// gateways set to find the nodes on loopback.
	ssh      bool
	gateways *gateway.Pool
	mu       sync.Mutex
	fleet    *demonodes.Fleet
	closed   bool
}

// start seeds and starts the demo nodes; they stop when ctx ends.
func (d *devDemo) start(ctx context.Context, progress io.Writer, log *slog.Logger, base, token, domainID, dataDir string, n int) error {
	account := ""
	if d.ssh {
		u, err := user.Current()
		if err != nil {
			return fmt.Errorf("dev: --demo-ssh: %w", err)
		}
		account = u.Username
	}
	f, pid, err := demonodes.Run(ctx, demonodes.RunOptions{Base: base, AdminToken: token, DomainID: domainID, N: n,
		DataDir: dataDir, Progress: progress, Logger: log, SSHAccount: account})
	if err != nil {
		if ctx.Err() != nil {
			return nil // shutting down
		}
		return fmt.Errorf("dev: demo nodes: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		f.Close()
		return nil
	}
	d.fleet = f
	context.AfterFunc(ctx, f.Close)
	if d.ssh && d.gateways != nil {
		d.gateways.SetWrap(f.Wrap)
		fmt.Fprintf(progress, "  ssh: demo nodes accept sessions for the login %q (a shell here as %s): Sessions → Issue → Browser terminal\n", demonodes.DemoSSHUser, account)
	}
	fmt.Fprintf(progress, "  topology: plexctl mesh topology --domain %s   (demo Project %s)\n\n", domainID, pid)
	return nil
}

// close stops the demo nodes, if any.
func (d *devDemo) close() {
	d.mu.Lock()
	f := d.fleet
	d.closed = true
	d.mu.Unlock()
	if f != nil {
		f.Close()
	}
}
