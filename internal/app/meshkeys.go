package app

import (
	"context"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/meshkeys"
)

// assembleMeshKeys builds WireGuard key rotation (the operator's trigger
// and preview, the node's completion, the schedule), registers its
// operations and starts the schedule; Close stops it.
func (s *Server) assembleMeshKeys(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	m, err := s.rotationMesh()
	if err != nil {
		return err
	}
	s.MeshKeys, err = meshkeys.NewService(meshkeys.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard,
		Mesh: m, Events: s.Events, Caller: enroll.NodeFrom,
		Interval: cfg.MeshKeyRotationInterval, Logger: log})
	if err != nil {
		return err
	}
	s.MeshKeys.Register(s.API.API)
	s.MeshKeys.Start(context.WithoutCancel(ctx))
	return nil
}

// rotationMesh is the mesh rotation renders peers and re-issues PSKs with;
// it renders paths (endpoint, keepalive, relay) from the NAT context like
// the main mesh, so a rotated peer's record keeps its relay.
func (s *Server) rotationMesh() (meshkeys.Mesh, error) {
	m, err := mesh.New(mesh.Config{DB: s.DB, Keyring: s.Keyring, Events: s.Events, Visibility: s.PolicyDelivery})
	if err == nil && s.NAT != nil {
		m.SetPaths(s.NAT)
	}
	return m, err
}
