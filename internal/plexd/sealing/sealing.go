// Package sealing owns the node's secret sealing key at run time (level 2,
// docs/design/0007-secrets.md): it makes sure an X25519 key pair, distinct
// from the WireGuard key, exists next to the identity, installs it in the
// control-plane client so sealed answers open, and registers its public
// half in the background at every start until the control plane
// acknowledges that kid. An older control plane (404, 405, 501) leaves the
// node at level-1 delivery until the next start; nothing here ever stops
// the agent.
package sealing

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

// Retry bounds of the background registration.
const (
	DefaultMinBackoff = 1 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// Client installs the key and registers it. *cpclient.Client implements it.
type Client interface {
	SetSealingKey(private string, acknowledged bool) error
	RegisterSealingKey(ctx context.Context, publicKey string) (*nodeproto.SealingKeyResponse, error)
}

// Store keeps the key pair and the acknowledged kid. *identity.Store
// implements it.
type Store interface {
	EnsureSealingKey() (k *identity.SealingKey, created bool, err error)
	SaveSealingKey(k *identity.SealingKey) error
}

// Options configures a Registrar.
type Options struct {
	NodeID string // required
	Store  Store  // required
	Client Client // required
	Clock  clock.Clock
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the retry wait (defaults above).
	MinBackoff, MaxBackoff time.Duration
	// Jitter returns a float in [0,1) (math/rand/v2 when nil).
	Jitter func() float64
}

// Registrar installs and registers one node's sealing key.
type Registrar struct {
	opts Options
	log  *slog.Logger
	clk  clock.Clock
	// key is set by Install; Run registers it. Only Install writes it,
	// before Run starts.
	key *identity.SealingKey
}

// New validates opts and builds a Registrar.
func New(opts Options) (*Registrar, error) {
	switch {
	case opts.NodeID == "":
		return nil, errors.New("sealing: Options.NodeID is required")
	case opts.Store == nil:
		return nil, errors.New("sealing: Options.Store is required")
	case opts.Client == nil:
		return nil, errors.New("sealing: Options.Client is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Registrar{opts: opts, log: opts.Logger, clk: clock.OrReal(opts.Clock)}, nil
}

// Install loads the sealing key, creating one when there is none, and
// installs it in the client. It touches only local files, so it runs
// before the local API serves. A failure is logged and leaves the node at
// level-1 delivery; it reports whether a key is installed.
func (r *Registrar) Install(ctx context.Context) bool {
	k, created, err := r.opts.Store.EnsureSealingKey()
	if err == nil {
		err = r.opts.Client.SetSealingKey(k.PrivateKey, k.Acknowledged(r.opts.NodeID))
	}
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "no sealing key; secrets stay at level-1 delivery", slog.String(logkey.Error, err.Error()))
		return false
	}
	if created {
		r.log.LogAttrs(ctx, slog.LevelInfo, "sealing key created", slog.String(logkey.KID, k.KID))
	}
	r.key = k
	return true
}

// Run registers the installed key until the control plane acknowledges
// it, refuses it, turns out not to know the endpoint, or ctx ends. The
// first failure of a start is logged at warn, later ones at debug.
func (r *Registrar) Run(ctx context.Context) {
	k := r.key
	if k == nil || k.Acknowledged(r.opts.NodeID) {
		return
	}
	for attempt := 0; ; attempt++ {
		_, err := r.opts.Client.RegisterSealingKey(ctx, k.PublicKey)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			r.acknowledge(ctx, k)
			return
		case cpclient.IsStatus(err, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented):
			r.log.LogAttrs(ctx, slog.LevelInfo, "control plane takes no sealing keys; secrets stay at level-1 delivery until the next start",
				slog.String(logkey.Error, err.Error()))
			return
		case cpclient.IsStatus(err, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
			http.StatusConflict, http.StatusUnprocessableEntity):
			r.log.LogAttrs(ctx, slog.LevelWarn, "sealing key refused; secrets stay at level-1 delivery until the next start",
				slog.String(logkey.KID, k.KID), slog.String(logkey.Error, err.Error()))
			return
		}
		wait := stream.Backoff(attempt, r.opts.MinBackoff, r.opts.MaxBackoff, r.opts.Jitter)
		var se *cpclient.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		lvl := slog.LevelDebug
		if attempt == 0 {
			lvl = slog.LevelWarn
		}
		r.log.LogAttrs(ctx, lvl, "sealing key registration failed; retrying in the background",
			slog.String(logkey.Error, err.Error()), slog.Duration(logkey.RetryIn, wait))
		select {
		case <-ctx.Done():
			return
		case <-r.clk.After(wait):
		}
	}
}

// acknowledge remembers the confirmed kid next to the identity, so later
// starts skip the registration.
func (r *Registrar) acknowledge(ctx context.Context, k *identity.SealingKey) {
	acked := *k
	acked.AcknowledgedKID, acked.AcknowledgedNodeID = k.KID, r.opts.NodeID
	if err := r.opts.Store.SaveSealingKey(&acked); err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "sealing key registered but not remembered; the next start registers it again",
			slog.String(logkey.Error, err.Error()))
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "sealing key registered; secrets are delivered sealed", slog.String(logkey.KID, k.KID))
}
