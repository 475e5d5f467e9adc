package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/plexsphere/plexsphere/internal/access"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/plexd/gateway"
)

// assembleAccess builds mediated access (issue 12): the session service
// and the session gateways, which reach this server through a loopback
// listener of their own.
func (s *Server) assembleAccess(ctx context.Context, cfg config.Config, log *slog.Logger, pages *page.Codec) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.internal = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Handler().ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.internal.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("internal listener stopped", "error", err.Error())
		}
	}()
	if s.Gateways, err = gateway.New(gateway.Options{
		Server: "http://" + ln.Addr().String(), Issue: s.Enroll.IssueGatewayToken, Discover: true,
		ListenPort: cfg.SessionGatewayPort, Logger: log,
	}); err != nil {
		return err
	}
	terminalKey, err := s.Keyring.ServerKey(ctx, s.DB, "terminal-ssh")
	if err != nil {
		return err
	}
	s.Access, err = access.NewService(access.Config{TerminalKey: terminalKey, DB: s.DB, Audit: s.Audit, Authz: s.Guard, Tenancy: s.Tenancy,
		Pages: pages, Events: s.Events, Keys: s.Keys, StepUp: s.OIDC, Gateway: s.Gateways, Logger: log,
		Caller: enroll.NodeFrom, PublicURL: cfg.PublicURL, DefaultTTL: cfg.SessionDefaultTTL, MaxTTL: cfg.SessionMaxTTL,
		MaxLive: cfg.SessionMaxLive, IssueRate: float64(cfg.SessionIssueRate) / 60,
		RecordingMax: int64(cfg.SessionRecordingMax)})
	if err != nil {
		return err
	}
	s.Access.Register(s.API.API)
	return nil
}

// closeAccess stops sessions' connections, the gateways and the loopback
// listener.
func (s *Server) closeAccess() {
	if s.Access != nil {
		s.Access.Close()
	}
	if s.Gateways != nil {
		s.Gateways.Close()
	}
	if s.internal != nil {
		s.internal.Close()
	}
}
