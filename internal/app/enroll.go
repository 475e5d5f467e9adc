package app

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/signing"
)

// assembleEnrolment builds the signing keys, the event plane and
// enrolment: per-Domain keys sealed with the master key, the event log and
// streams signing through them, and registration emitting peer events into
// that log. The event plane runs until Close.
func (s *Server) assembleEnrolment(ctx context.Context, cfg config.Config, log *slog.Logger, pages *page.Codec) error {
	var err error
	if s.Keys, err = signing.NewLocal(signing.LocalConfig{DB: s.DB, Keyring: s.Keyring}); err != nil {
		return err
	}
	s.domainKeys = events.NewDomainKeys(s.Keys, nil)
	if s.Events, err = events.New(events.Config{DB: s.DB, Directory: enroll.Directory{}, Keys: s.domainKeys, Fanout: s.Metrics.ObserveFanout,
		PostgresURL: cfg.DatabaseURL, Logger: log}); err != nil {
		return err
	}
	if err := s.Events.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if s.Signing, err = signing.NewService(signing.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Backend: s.Keys,
		OnRotate: s.announceRotation}); err != nil {
		return err
	}
	nskKey, err := s.Keyring.ServerKey(ctx, s.DB, "nsk-digest")
	if err != nil {
		return err
	}
	if s.Mesh, err = mesh.New(mesh.Config{DB: s.DB, Keyring: s.Keyring, Events: s.Events}); err != nil {
		return err
	}
	if err := s.assembleDelivery(log); err != nil {
		return err
	}
	// The one composer of GET …/state: the mesh context's peers and
	// state.mesh, then the event plane's metadata, contract members and
	// signing keys. Providers of later contexts are appended here.
	// The policy block goes after the contract members it is one of.
	s.NodeState = nodestate.New(append([]nodestate.Provider{s.Mesh.StateProvider()},
		s.Events.StateProviders(s.domainKeys)...)...).With(s.PolicyDelivery.StateProvider())
	s.Enroll, err = enroll.NewService(enroll.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages,
		Keyring: s.Keyring, Signing: s.Keys, NSKDigestKey: nskKey, Tuples: s.Tuples, Labels: s.Labels, Events: nodeForgetter{s},
		Mesh: s.Mesh, Policy: s.PolicyDelivery, Logger: log})
	return err
}

// announceRotation appends signing_key_rotated to every live node of the
// Domain in the rotation's transaction, recorded with the outgoing key: the
// key those agents trust (node-protocol.md §8 K4).
func (s *Server) announceRotation(ctx context.Context, tx *sql.Tx, domainID string, r signing.Rotation) error {
	ids, err := enroll.LiveNodes(ctx, tx, domainID)
	if err != nil || len(ids) == 0 {
		return err
	}
	_, err = s.Events.Append(ctx, tx, ids, events.Entry{Type: nodeproto.EventSigningKeyRotated, KeyID: r.Retiring.KID,
		Payload: nodeproto.SigningKeys{Current: r.Active.PublicBase64(), Previous: r.Retiring.PublicBase64(),
			TransitionExpires: r.Retiring.NotAfter.UTC()}})
	return err
}

// registerEnrolment adds the enrolment, signing-key and event-stream
// operations.
func (s *Server) registerEnrolment() {
	s.Enroll.Register(s.API.API)
	s.Signing.Register(s.API.API)
	s.Events.Register(s.API.API, enroll.NodeFrom)
}
