// Package meshtest is a channel-backed fake mesh.Engine: every Set is
// delivered on a channel so a test waits for the reconciler to apply a
// config instead of sleeping, and errors can be injected.
package meshtest

import (
	"context"
	"sync"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// Fake records every Set and sends it on Sets.
type Fake struct {
	// Sets receives each config passed to Set (buffered; a full buffer
	// drops the oldest so Set never blocks the reconciler).
	Sets chan mesh.Config

	// mu guards applied and err.
	mu      sync.Mutex
	applied mesh.Config
	err     error
}

// New returns a Fake whose channel holds n configs.
func New(n int) *Fake { return &Fake{Sets: make(chan mesh.Config, n)} }

// FailWith makes later Sets return err (nil to succeed again).
func (f *Fake) FailWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Set records cfg unless an error is injected.
func (f *Fake) Set(_ context.Context, cfg mesh.Config) error {
	f.mu.Lock()
	err := f.err
	if err == nil {
		f.applied = cfg
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		select {
		case f.Sets <- cfg:
			return nil
		default:
			select {
			case <-f.Sets:
			default:
			}
		}
	}
}

// Applied is the last successful config.
func (f *Fake) Applied() mesh.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// Stats reports the applied config.
func (f *Fake) Stats() mesh.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return mesh.Stats{Interface: f.applied.Interface, ListenPort: f.applied.ListenPort, PeerCount: len(f.applied.Peers), Backend: "fake"}
}
