package app

import (
	"context"
	"log/slog"
	"net"
	"net/url"

	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nat"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/stun"
)

// assembleNAT builds the endpoints, NAT and relay context: it becomes the
// mesh's PathSource (endpoints, keepalive, candidates, relays in every
// rendered Peer), adds its state provider after the mesh's, registers its
// operations and starts its background loop (renewal, re-routing,
// tombstones). Call it after assembleEnrolment, before RegisterAgent.
func (s *Server) assembleNAT(ctx context.Context, cfg config.Config, log *slog.Logger, pages *page.Codec) error {
	var err error
	if s.NAT, err = nat.New(nat.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages, Mesh: s.Mesh, Events: s.Events,
		Caller: enroll.NodeFrom, STUNServers: stunAdvertise(cfg), Logger: log}); err != nil {
		return err
	}
	s.Mesh.SetPaths(s.NAT)
	s.NodeState = s.NodeState.With(s.NAT.StateProvider())
	s.NAT.Register(s.API.API)
	s.NAT.Start(context.WithoutCancel(ctx))
	return nil
}

// stunAdvertise is the configured STUN server list, else the public URL's
// host (the listen host when there is none) with each STUN listen port.
func stunAdvertise(cfg config.Config) []string {
	if len(cfg.STUNAdvertise) > 0 {
		return cfg.STUNAdvertise
	}
	host := ""
	if u, err := url.Parse(cfg.PublicURL); err == nil && cfg.PublicURL != "" {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(cfg.Listen); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return nil
	}
	var out []string
	for _, l := range cfg.STUNListen {
		if _, port, err := net.SplitHostPort(l); err == nil && port != "0" && port != "" {
			out = append(out, net.JoinHostPort(host, port))
		}
	}
	return out
}

// serveSTUN starts a STUN responder on every configured address until ctx
// ends. An address that cannot be bound is logged and skipped: nodes then
// classify their NAT from the remaining servers (or report unknown), and
// the control plane keeps serving.
func (s *Server) serveSTUN(ctx context.Context) {
	for _, addr := range s.Config.STUNListen {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			s.Log.ErrorContext(ctx, "stun_listen_failed", "address", addr, "error", err.Error())
			continue
		}
		srv := stun.NewServer(pc, s.Log)
		s.Log.InfoContext(ctx, "stun responder listening", "address", pc.LocalAddr().String())
		go func() {
			if err := srv.Serve(ctx); err != nil {
				s.Log.ErrorContext(ctx, "stun_serve_failed", "address", addr, "error", err.Error())
			}
		}()
	}
}
