package app

import (
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/policy/deliver"
)

// assembleDelivery builds the policy delivery right after the mesh
// (docs/design/0006-policy.md): the mesh shows each node only the peers
// policy lets it talk to (the label context reports node relabels to it
// and to the secrets context, see assemble); the Domain default operations are registered with the policy context.
// Enrolment, the state
// composer and the policy context are handed the delivery by their
// assembly.
func (s *Server) assembleDelivery(log *slog.Logger) error {
	var err error
	if s.PolicyDelivery, err = deliver.New(deliver.Config{DB: s.DB, Events: s.Events, Mesh: s.Mesh, Authz: s.Guard,
		Audit: s.Audit, Logger: log}); err != nil {
		return err
	}
	s.Mesh.SetVisibility(s.PolicyDelivery)
	return nil
}
