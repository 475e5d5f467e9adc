package events_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// TestCrossReplicaOnTwoControlPlanes: two whole control planes (replicas)
// on one PostgreSQL schema, sharing the master key. A node's stream is open
// on replica B; another node registers through replica A; the peer_added
// committed on A reaches the stream on B, signed with the Domain's key.
func TestCrossReplicaOnTwoControlPlanes(t *testing.T) {
	if len(backends(t)) < 2 {
		t.Skip(postgresEnv + " not set")
	}
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = apptest.DatabaseURL(t, apptest.Postgres)
	cfg.MasterKeyFile = filepath.Join(cfg.DataDir, "master.key")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	replica := func() (*app.Server, string) {
		srv, err := app.Open(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { hs.Close(); srv.Close() })
		return srv, hs.URL
	}
	srvA, urlA := replica()
	tok, err := srvA.Bootstrap(ctx)
	if err != nil || tok == "" {
		t.Fatalf("bootstrap: %v", err)
	}
	_, urlB := replica()
	e := &apptest.Env{URL: urlA, Token: tok}
	fx := e.NewEnrolment(t, "d", "10.100.0.0/16", 10)
	bt := fx.Token
	x := register(t, e, bt.Token)
	c, st := tryConnect(t, urlB, x.NodeID, x.NodeSecretKey, "", keySetOf(t, x.SigningPublicKey))
	if st != http.StatusOK {
		t.Fatalf("stream on B: %d", st)
	}
	for range 3 {
		start := time.Now()
		y := register(t, e, bt.Token) // through replica A
		g := c.next()
		var p nodeproto.Peer
		if err := json.Unmarshal(g.env.Payload, &p); err != nil || g.env.EventType != nodeproto.EventPeerAdded || p.ID != y.NodeID {
			t.Fatalf("got %s %s", g.env.EventType, g.env.Payload)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("registration on A to delivery on B took %s", d)
		}
	}
}
