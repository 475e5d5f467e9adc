package plexd

import (
	"context"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/relay"
)

// TestBridgeOnlyInBridgeMode: a plain node gets no bridge (a typed nil
// would make the agent report a relay it does not run); a bridge gets the
// relay manager, which stops with the context.
func TestBridgeOnlyInBridgeMode(t *testing.T) {
	a := &app{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if b := a.bridge(ctx, &config.Config{Mode: config.ModeNode}, nil); b != nil {
		t.Errorf("node mode got a bridge %T", b)
	}
	b := a.bridge(ctx, &config.Config{Mode: config.ModeBridge}, nil)
	m, ok := b.(*relay.Manager)
	if !ok {
		t.Fatalf("bridge mode got %T, want *relay.Manager", b)
	}
	if m.Stats().Enabled {
		t.Error("the relay runs before any desired state")
	}
}

// TestStatusTextShowsRelay: the text status has a Relay row on a bridge
// and none on a plain node.
func TestStatusTextShowsRelay(t *testing.T) {
	var plain, bridge strings.Builder
	printStatus(&plain, agent.Status{NodeID: "n1", Connection: "connected"})
	if strings.Contains(plain.String(), "Relay:") {
		t.Errorf("plain node shows a relay:\n%s", plain.String())
	}
	printStatus(&bridge, agent.Status{NodeID: "n1", Connection: "connected", Relay: &relay.Stats{
		Enabled: true, ListenAddr: "[::]:51821", Sessions: 3, BoundSides: 5, ForwardedDatagrams: 42, Dropped: 7}})
	want := "Relay:       [::]:51821, 3 sessions, 5 sides bound, 42 datagrams forwarded, 7 dropped"
	if !strings.Contains(bridge.String(), want) {
		t.Errorf("bridge status lacks %q:\n%s", want, bridge.String())
	}
}
