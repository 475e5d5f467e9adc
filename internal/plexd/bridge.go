package plexd

import (
	"context"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/relay"
)

// bridge is what `plexd up --mode bridge` runs besides the mesh (today the
// UDP relay with its STUN responder, started and moved as the desired
// state says); nil for a plain node. It stops when ctx ends.
func (a *app) bridge(ctx context.Context, cfg *config.Config, log *slog.Logger) agent.Bridge {
	if cfg.Mode != config.ModeBridge {
		return nil
	}
	m := relay.NewManager(relay.ManagerOptions{Logger: log, Server: relay.Config{Now: clock.OrReal(a.env.Clock).Now}})
	context.AfterFunc(ctx, m.Close)
	return m
}
