package events_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
)

// TestShutdownEndsStreams: a control plane shutting down ends its open
// event streams at once instead of waiting out the drain timeout.
func TestShutdownEndsStreams(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.ShutdownTimeout = 20 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tok, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	addr := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, func(a string) { addr <- a }) }()
	e := &apptest.Env{URL: "http://" + <-addr, Token: tok}
	fx := e.NewEnrolment(t, "d", "10.100.0.0/16", 0)
	bt := fx.Token
	n := register(t, e, bt.Token)
	c, st := tryConnect(t, e.URL, n.NodeID, n.NodeSecretKey, "", keySetOf(t, n.SigningPublicKey))
	if st != http.StatusOK {
		t.Fatalf("stream: %d", st)
	}
	start := time.Now()
	stop()
	c.waitEnd()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown still waiting on the event stream")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s", d)
	}
}
