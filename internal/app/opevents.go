package app

import (
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/guard"
	"github.com/plexsphere/plexsphere/internal/opevents"
)

// assembleOpEvents builds the operator event stream (issue 13): every audit
// append records its events in its own transaction, and the stream serves
// them per Domain.
func (s *Server) assembleOpEvents(decider guard.Engine, log *slog.Logger) error {
	var err error
	s.OpEvents, err = opevents.New(opevents.Config{DB: s.DB, Authz: s.Guard, Decider: decider, Logger: log})
	if err != nil {
		return err
	}
	s.Audit.OnAppend(s.OpEvents.FromAudit)
	s.OpEvents.Register(s.API.API)
	s.OpEvents.Start()
	return nil
}
