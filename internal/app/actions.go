package app

import (
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/actions"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/page"
)

// assembleActions builds fleet operations (issue 14): dispatch and
// executions with their node callbacks, capability and hook inventories,
// integrity violations.
func (s *Server) assembleActions(log *slog.Logger, pages *page.Codec) error {
	var err error
	s.Actions, err = actions.NewService(actions.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Projects: s.Tenancy,
		Pages: pages, Events: s.Events, Caller: enroll.NodeFrom, Logger: log, DriftAfter: s.Config.StateDriftAfter})
	if err != nil {
		return err
	}
	s.Actions.Register(s.API.API)
	return nil
}
