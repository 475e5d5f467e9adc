package app

import (
	"log/slog"

	obslogs "github.com/plexsphere/plexsphere/internal/obs/logs"
	"github.com/plexsphere/plexsphere/internal/obs/push"
	"github.com/plexsphere/plexsphere/internal/page"
)

// assembleNodeLogs builds the node logs and host audit store (issue 15):
// the ingest of POST /v1/nodes/{id}/logs and …/audit, QueryDomainLogs, the
// live tail, and the retention sweeper.
func (s *Server) assembleNodeLogs(pages *page.Codec, log *slog.Logger) error {
	ret, err := s.telemetryRetention()
	if err != nil {
		return err
	}
	c := s.Config
	s.NodeLogs, err = obslogs.New(obslogs.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages, Logger: log,
		Retention: c.NodeLogRetention, DomainRetention: ret.LogsByDomain,
		Loki: obslogs.Loki{URL: c.LokiPushURL, Bearer: push.BearerFile(c.LokiBearerTokenFile), TenantID: c.LokiTenantID}})
	if err != nil {
		return err
	}
	s.NodeLogs.Register(s.API.API)
	s.NodeLogs.Start()
	return nil
}

// closeNodeLogs stops the sweeper and ends the live tails.
func (s *Server) closeNodeLogs() {
	if s.NodeLogs != nil {
		s.NodeLogs.Close()
	}
}
