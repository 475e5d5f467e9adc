package app

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"

	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/secrets"
	"github.com/plexsphere/plexsphere/internal/secrets/backend"
	"github.com/plexsphere/plexsphere/internal/secrets/embedded"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao"
)

// assembleSecrets builds the secrets context (issue 11) on the configured
// backend and registers its operator operations. Its node side (fetch,
// sealing keys) is served by the agent plane, its secret_refs are a state
// provider, relabels reach it through the label watcher and node removal
// through the enrolment's forgetter.
func (s *Server) assembleSecrets(ctx context.Context, pages *page.Codec, log *slog.Logger) error {
	b, err := s.secretBackend(ctx)
	if err != nil {
		return err
	}
	// Only OpenBao can gain versions behind plexsphere's back: the embedded
	// store is written through this service alone, so it is not watched.
	watch := s.Config.SecretsWatchInterval
	if s.Config.SecretsBackend != "openbao" {
		watch = -1
	}
	if s.Secrets, err = secrets.NewService(secrets.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Projects: s.Tenancy,
		Pages: pages, Backend: b, Events: s.Events, NSKs: s.Enroll, Logger: log,
		WatchInterval: watch, NodeFetchRate: float64(s.Config.SecretFetchRate),
		DomainFetchRate: float64(s.Config.SecretFetchDomainRate)}); err != nil {
		return err
	}
	s.Secrets.Register(s.API.API)
	log.InfoContext(ctx, "secrets backend ready", "backend", s.Secrets.BackendName())
	return nil
}

// secretBackend opens the configured backend: OpenBao KV v2, or the
// embedded store under the KEK file (or PLEXSPHERE_KEK).
func (s *Server) secretBackend(ctx context.Context) (backend.Backend, error) {
	cfg := s.Config
	if cfg.SecretsBackend == "openbao" {
		b, err := openbao.New(ctx, openBaoConfig(cfg, s.Log))
		if err != nil {
			return nil, fmt.Errorf("app: openbao: %w", err)
		}
		return b, nil
	}
	keks, err := embedded.LoadKEKs(cfg.KEKFile, os.Getenv("PLEXSPHERE_KEK"))
	if err != nil {
		return nil, err
	}
	return embedded.New(embedded.Config{DB: s.DB, KEKs: keks})
}

// openBaoConfig is the client configuration of both OpenBao uses (KV and
// Transit).
func openBaoConfig(cfg config.Config, log *slog.Logger) openbao.Config {
	return openbao.Config{Logger: log, Address: cfg.OpenBaoAddr, Token: string(cfg.OpenBaoToken),
		TokenFile: cfg.OpenBaoTokenFile, RoleID: cfg.OpenBaoRoleID, SecretIDFile: cfg.OpenBaoSecretIDFile,
		Namespace: cfg.OpenBaoNamespace, KVMount: cfg.OpenBaoKVMount, Prefix: cfg.OpenBaoKVPrefix, CACert: cfg.OpenBaoCACert}
}

// loadKeyring opens the master key: wrapped by OpenBao Transit when a
// Transit key is configured (an existing plain key file is wrapped in
// place), else the plain 0600 key file.
func loadKeyring(ctx context.Context, cfg config.Config, log *slog.Logger) (*keyring.Keyring, error) {
	if cfg.OpenBaoTransitKey == "" {
		return keyring.LoadOrCreate(cfg.MasterKeyFile)
	}
	tr, err := openbao.NewTransit(ctx, openBaoConfig(cfg, log),
		openbao.TransitConfig{Mount: cfg.OpenBaoTransitMount, Key: cfg.OpenBaoTransitKey})
	if err != nil {
		return nil, fmt.Errorf("app: openbao transit: %w", err)
	}
	return keyring.LoadOrCreateWrapped(ctx, cfg.MasterKeyFile, tr)
}

// nodeForgetter is what enrolment calls when a node is removed: the event
// plane forgets the node, then the secrets context drops its sealing key
// and node bindings (once it is assembled).
type nodeForgetter struct {
	s *Server
}

func (f nodeForgetter) Emit(ctx context.Context, tx *sql.Tx, nodeIDs []string, eventType string, payload any) error {
	return f.s.Events.Emit(ctx, tx, nodeIDs, eventType, payload)
}

func (f nodeForgetter) ForgetNode(ctx context.Context, tx *sql.Tx, nodeID string) error {
	if err := f.s.Events.ForgetNode(ctx, tx, nodeID); err != nil {
		return err
	}
	if f.s.Secrets != nil {
		return f.s.Secrets.ForgetNode(ctx, tx, nodeID)
	}
	return nil
}

// nodeWatchers tells every watcher of node relabels in turn.
type nodeWatchers []interface {
	NodeLabelsChanged(ctx context.Context, tx *sql.Tx, nodeID string) error
}

func (w nodeWatchers) NodeLabelsChanged(ctx context.Context, tx *sql.Tx, nodeID string) error {
	for _, x := range w {
		if err := x.NodeLabelsChanged(ctx, tx, nodeID); err != nil {
			return err
		}
	}
	return nil
}

var _ enroll.Emitter = nodeForgetter{}
