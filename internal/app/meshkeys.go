package app

import (
	"context"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/meshkeys"
)

// assembleMeshKeys builds WireGuard key rotation (the operator's trigger
// and preview, the node's completion, the schedule), registers its
// operations and starts the schedule; Close stops it.
func (s *Server) assembleMeshKeys(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	// One mesh Service for enrolment and rotation: its member index then
	// sees rotations as patches, not as another Service's change.
	var err error
	s.MeshKeys, err = meshkeys.NewService(meshkeys.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard,
		Mesh: s.Mesh, Events: s.Events, Caller: enroll.NodeFrom,
		Interval: cfg.MeshKeyRotationInterval, Logger: log})
	if err != nil {
		return err
	}
	s.MeshKeys.Register(s.API.API)
	s.MeshKeys.Start(context.WithoutCancel(ctx))
	return nil
}
