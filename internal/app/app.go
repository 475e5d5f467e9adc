// Package app is the control plane's composition root: one struct that names
// every subsystem, built from a validated config, plus the HTTP server's
// lifecycle (TLS, graceful shutdown) and the first-start bootstrap.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/access"
	"github.com/plexsphere/plexsphere/internal/actions"
	"github.com/plexsphere/plexsphere/internal/api"
	"github.com/plexsphere/plexsphere/internal/apidocs"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/dashboard"
	"github.com/plexsphere/plexsphere/internal/directory"
	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/groups"
	"github.com/plexsphere/plexsphere/internal/guard"
	"github.com/plexsphere/plexsphere/internal/identity"
	"github.com/plexsphere/plexsphere/internal/invitation"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/labels"
	"github.com/plexsphere/plexsphere/internal/mesh"
	"github.com/plexsphere/plexsphere/internal/meshkeys"
	"github.com/plexsphere/plexsphere/internal/nat"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/oauth"
	"github.com/plexsphere/plexsphere/internal/obs/alerts"
	obslogs "github.com/plexsphere/plexsphere/internal/obs/logs"
	obsmetrics "github.com/plexsphere/plexsphere/internal/obs/metrics"
	"github.com/plexsphere/plexsphere/internal/oidc"
	"github.com/plexsphere/plexsphere/internal/opevents"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/plexd/gateway"
	"github.com/plexsphere/plexsphere/internal/policy"
	"github.com/plexsphere/plexsphere/internal/policy/deliver"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/ratelimit"
	"github.com/plexsphere/plexsphere/internal/secrets"
	"github.com/plexsphere/plexsphere/internal/serviceid"
	"github.com/plexsphere/plexsphere/internal/session"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
	"github.com/plexsphere/plexsphere/internal/telemetry"
	"github.com/plexsphere/plexsphere/internal/tenancy"
	"github.com/plexsphere/plexsphere/internal/tuples"
	"github.com/plexsphere/plexsphere/internal/unserved"
	"github.com/plexsphere/plexsphere/internal/version"
)

// Server is the assembled control plane.
type Server struct {
	Config  config.Config
	Log     *slog.Logger
	DB      *store.DB
	Keyring *keyring.Keyring
	Audit   *audit.Log
	// Checkpoints signs the audit chain heads every N entries or T.
	Checkpoints *audit.Checkpointer
	Guard       *guard.Guard
	// Authz evaluates ReBAC checks over the in-memory index that Tuples
	// keeps equal to the database.
	Authz    *authz.Engine
	Tuples   *tuples.Store
	Identity *identity.Service
	Tenancy  *tenancy.Service
	Labels   *labels.Service
	// Keys is the signing key manager (local sealed backend).
	Keys    *signing.Local
	Signing *signing.Service
	Events  *events.Service
	Enroll  *enroll.Service
	// Mesh allocates mesh addresses and renders peers with their PSKs;
	// NodeState composes GET …/state from the contexts' providers.
	Mesh      *mesh.Service
	NodeState *nodestate.Composer
	// MeshKeys rotates nodes' WireGuard keys (trigger, completion, schedule).
	MeshKeys *meshkeys.Service
	// NAT keeps endpoints, per-peer paths and relays, and is the mesh's
	// PathSource.
	NAT *nat.Service
	// Policy serves network policies and their revisions (issue 10).
	Policy *policy.Service
	// PolicyDelivery compiles policy per node into state and events and
	// filters the mesh's peers.
	PolicyDelivery *deliver.Service
	Secrets        *secrets.Service
	// Access issues mediated-access sessions; Gateways are the session
	// plane's mesh peers, one per Project with sessions (issue 12).
	Access   *access.Service
	Gateways *gateway.Pool
	// Actions runs executions on nodes (issue 14).
	Actions *actions.Service
	// OpEvents is the operator event stream (issue 13).
	OpEvents *opevents.Service
	// NodeLogs stores and serves node logs and host audit (issue 15).
	NodeLogs *obslogs.Service
	// NodeMetrics is the node metrics TSDB and PromQL queries (issue 15).
	NodeMetrics *obsmetrics.Service
	// Alerts evaluates alert rules and keeps incidents (issue 15).
	Alerts *alerts.Service
	// internal serves the gateways' control-plane calls on loopback.
	internal *http.Server
	// handler is the root handler, built once.
	handlerOnce sync.Once
	handler     http.Handler
	// domainKeys renders and selects the Domain keys for the event plane.
	domainKeys *events.DomainKeys
	Sessions   *session.Service
	OIDC       *oidc.Service
	// OAuth is the device flow for plexctl and plexsphere's own bearer
	// tokens; ServiceIDs the service identities and their token endpoint.
	OAuth      *oauth.Service
	ServiceIDs *serviceid.Service
	// Groups, Invitations and Directory: manual groups, invitations
	// redeemed at first sign-in, and the per-Domain identities view
	// (issue 16).
	Groups      *groups.Service
	Invitations *invitation.Service
	Directory   *directory.Service
	API         *api.Server
	// Metrics is plexsphere's own telemetry (GET /metrics).
	Metrics *telemetry.Metrics
}

// Open connects, migrates and assembles the control plane.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}
	db, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath()})
	if err != nil {
		return nil, err
	}
	s, err := assemble(ctx, cfg, log, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func assemble(ctx context.Context, cfg config.Config, log *slog.Logger, db *store.DB) (*Server, error) {
	if err := db.Migrate(ctx, log); err != nil {
		return nil, err
	}
	kr, err := loadKeyring(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	pepper, err := kr.ServerKey(ctx, db, "audit-pseudonym-pepper")
	if err != nil {
		return nil, err
	}
	cursorKey, err := kr.ServerKey(ctx, db, "cursor-hmac")
	if err != nil {
		return nil, err
	}
	pages, err := page.NewCodec(cursorKey)
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, Log: log, DB: db, Keyring: kr, Metrics: telemetry.New(db)}
	schema, index := authz.DefaultSchema(), authz.NewMemTuples()
	if s.Tuples, err = tuples.New(tuples.Config{DB: db, Schema: schema, Index: index, Logger: log}); err != nil {
		return nil, err
	}
	if s.Audit, err = audit.New(audit.Config{DB: db, Pepper: pepper, Domains: s.Tuples}); err != nil {
		return nil, err
	}
	if s.Authz, err = authz.New(authz.Config{Schema: schema, Tuples: index}); err != nil {
		return nil, err
	}
	if err := s.Tuples.Load(ctx); err != nil {
		return nil, err
	}
	decider := guard.Engine{Authz: s.Authz, Ready: s.Tuples.Healthy}
	s.Guard = guard.New(decider)
	if s.Identity, err = identity.NewService(identity.Config{DB: db, Audit: s.Audit, Tuples: s.Tuples, Pages: pages, Authz: s.Guard,
		AdminTokenMaxTTL: cfg.AdminTokenMaxTTL}); err != nil {
		return nil, err
	}
	if s.Tenancy, err = tenancy.NewService(tenancy.Config{DB: db, Audit: s.Audit, Authz: s.Guard, Tuples: s.Tuples, Pages: pages}); err != nil {
		return nil, err
	}
	if s.Labels, err = labels.NewService(labels.Config{DB: db, Audit: s.Audit, Authz: s.Guard, Pages: pages}); err != nil {
		return nil, err
	}
	if err := s.assembleIdentity(ctx, cfg, log, pages); err != nil {
		return nil, err
	}
	if err := s.assembleEnrolment(ctx, cfg, log, pages); err != nil {
		return nil, err
	}
	if s.Checkpoints, err = audit.NewCheckpointer(audit.CheckpointConfig{DB: db, Signer: s.Keys, Logger: log,
		Every: int64(cfg.AuditCheckpointEvery), Interval: cfg.AuditCheckpointInterval}); err != nil {
		return nil, err
	}
	v, c, d := version.Info()
	s.API, err = api.New(api.Config{
		Logger: log, Audit: s.Audit, Authenticator: bearers{s.Identity, s.OAuth},
		TrustedProxies: cfg.TrustedProxyPrefixes(), BodyReadTimeout: cfg.ReadBodyTimeout,
		Sessions: s.Sessions, StepUp: s.OIDC, AllowedOrigins: cfg.AllowedOrigins, Nodes: s.Enroll,
		PublicLimit: ratelimit.New(float64(cfg.PublicRateLimit), cfg.PublicBurst, nil), Metrics: s.Metrics,
		Version: apiv1.Version{Version: v, Commit: c, Date: d},
		Checks:  []api.Check{{Name: "database", Run: func(ctx context.Context) error { return db.PingContext(ctx) }}},
	})
	if err != nil {
		return nil, err
	}
	// Every request gets its own ReBAC memo (checks of one request share it).
	s.API.API.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		next(huma.WithContext(ctx, decider.Begin(ctx.Context())))
	})
	s.Identity.Register(s.API.API)
	s.Metrics.Register(s.API.API, s.Guard)
	s.Sessions.Register(s.API.API, session.Cascade{Tokens: s.Identity, DeviceLogins: s.OAuth})
	s.OIDC.Register(s.API.API)
	s.OAuth.Register(s.API.API)
	s.ServiceIDs.Register(s.API.API)
	s.Invitations.Register(s.API.API)
	s.Directory.Register(s.API.API)
	if s.Groups, err = groups.NewService(groups.Config{DB: db, Audit: s.Audit, Authz: s.Guard, Pages: pages, Tuples: s.Tuples}); err != nil {
		return nil, err
	}
	s.Groups.Register(s.API.API)
	s.Tenancy.Register(s.API.API)
	s.Labels.Register(s.API.API)
	if err := s.assembleOpEvents(decider, log); err != nil {
		return nil, err
	}
	if err := s.assembleNodeLogs(pages, log); err != nil {
		return nil, err
	}
	if err := s.assembleNodeMetrics(log); err != nil {
		return nil, err
	}
	if err := s.assembleAlerts(pages, log); err != nil {
		return nil, err
	}
	s.registerEnrolment()
	if err := s.assembleSecrets(ctx, pages, log); err != nil {
		return nil, err
	}
	s.NodeState = s.NodeState.With(s.Secrets.StateProvider())
	s.Labels.SetNodeWatcher(nodeWatchers{s.PolicyDelivery, s.Secrets})
	if err := s.assembleNAT(ctx, cfg, log, pages); err != nil {
		return nil, err
	}
	// The node agent plane: state, heartbeat, drift, capabilities, report,
	// deregister (through enrolment), secrets and ingest placeholders.
	if err := s.assembleMeshKeys(ctx, cfg, log); err != nil {
		return nil, err
	}
	if err := s.assembleAccess(ctx, cfg, log, pages); err != nil {
		return nil, err
	}
	if err := s.assembleActions(log, pages); err != nil {
		return nil, err
	}
	s.Events.RegisterAgent(s.API.API, events.AgentOptions{Keys: s.domainKeys, State: s.NodeState, Deregister: s.Enroll, Caller: enroll.NodeFrom,
		Rotations: s.MeshKeys, Paths: s.NAT, Secrets: s.Secrets, Ingest: s.telemetryIngest()})
	if err := s.PolicyDelivery.Register(s.API.API); err != nil {
		return nil, err
	}
	if err := s.assemblePolicy(pages, s.PolicyDelivery, deliver.Inventory{}); err != nil {
		return nil, err
	}
	(&audit.API{Log: s.Audit, Authz: s.Guard, Pages: pages}).Register(s.API.API)
	(&tuples.API{DB: db, Audit: s.Audit, Authz: s.Guard, Engine: s.Authz, Tuples: s.Tuples, Projects: s.Tenancy,
		Pages: pages}).Register(s.API.API)
	apidocs.Register(s.API.API)
	// Last: the contract operations nobody above serves answer 501 (issue 8).
	unserved.Register(s.API.API, log)
	s.Tuples.Start()
	s.Checkpoints.Start()
	s.Secrets.Start()
	s.Access.Start()
	s.Actions.Start()
	return s, nil
}

// assembleIdentity builds browser sessions and the OIDC relying party.
func (s *Server) assembleIdentity(ctx context.Context, cfg config.Config, log *slog.Logger, pages *page.Codec) error {
	csrfKey, err := s.Keyring.ServerKey(ctx, s.DB, "csrf-hmac")
	if err != nil {
		return err
	}
	if s.Sessions, err = session.NewService(session.Config{DB: s.DB, Audit: s.Audit, CSRFKey: csrfKey,
		TrustProxyHeaders: cfg.TrustProxyHeaders}); err != nil {
		return err
	}
	if s.Invitations, err = invitation.NewService(invitation.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages,
		Tuples: s.Tuples, Schema: s.Authz.Schema(), PublicURL: cfg.PublicURL}); err != nil {
		return err
	}
	if s.Directory, err = directory.NewService(directory.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages,
		Lookup: s.Authz}); err != nil {
		return err
	}
	s.OIDC, err = oidc.NewService(oidc.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages, Keyring: s.Keyring,
		Sessions: s.Sessions, Tuples: s.Tuples, Invitations: s.Invitations, PublicURL: cfg.PublicURL,
		TrustProxyHeaders: cfg.TrustProxyHeaders, Logger: log})
	if err != nil {
		return err
	}
	if s.OAuth, err = oauth.NewService(oauth.Config{DB: s.DB, Audit: s.Audit, Bindings: s.OIDC, Tokens: s.Identity, PublicURL: cfg.PublicURL,
		TrustProxyHeaders: cfg.TrustProxyHeaders, Logger: log}); err != nil {
		return err
	}
	s.ServiceIDs, err = serviceid.NewService(serviceid.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Pages: pages,
		Bindings: s.OIDC, Tokens: s.OAuth, Tuples: s.Tuples})
	return err
}

// bearers tries each operator bearer authenticator in turn: each refuses
// the prefixes it does not own without a lookup (psk_ API tokens, psa_
// device-flow and service tokens).
type bearers []api.Authenticator

// AuthenticateBearer implements api.Authenticator.
func (b bearers) AuthenticateBearer(ctx context.Context, token string) (*principal.Principal, error) {
	for _, a := range b {
		p, err := a.AuthenticateBearer(ctx, token)
		if !errors.Is(err, principal.ErrBadCredential) {
			return p, err
		}
	}
	return nil, principal.ErrBadCredential
}

// Close stops following the tuple change log and releases the database.
func (s *Server) Close() error {
	s.closeAccess()
	s.closeNodeLogs()
	s.closeAlerts()
	s.closeNodeMetrics()
	if s.OpEvents != nil {
		s.OpEvents.Close()
	}
	if s.Actions != nil {
		s.Actions.Close()
	}
	if s.Secrets != nil {
		s.Secrets.Close()
	}
	if s.NAT != nil {
		s.NAT.Close()
	}
	if s.MeshKeys != nil {
		s.MeshKeys.Close()
	}
	if s.Events != nil {
		s.Events.Close()
	}
	if s.Tuples != nil {
		s.Tuples.Close()
	}
	if s.Audit != nil {
		s.Audit.Flush(context.Background(), s.Log) // the roll-ups of open aggregation windows
	}
	if s.Checkpoints != nil {
		s.Checkpoints.Close()
	}
	return s.DB.Close()
}

// Handler is the root HTTP handler: the API, plus the device-login
// verification page at /device.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() {
		mux := http.NewServeMux()
		mux.Handle("GET /device", s.OAuth.VerificationPage())
		dashboard.Register(mux) // the operator UI at /ui/ (GET / redirects there)
		api := s.API.Handler()
		mux.Handle(access.KubePattern, s.API.Edge(s.Access.KubeHandler()))
		mux.Handle("/", api)
		s.handler = mux
	})
	return s.handler
}

// Bootstrap creates the Platform and the first admin token on an empty
// database; the token is written to <data-dir>/admin-token (0600) and
// returned so the caller can print it once.
func (s *Server) Bootstrap(ctx context.Context) (string, error) {
	tok, err := s.Identity.Bootstrap(ctx)
	if err != nil || tok == "" {
		return "", err
	}
	// Apply the first start's platform#admin grant to this replica's index now.
	if err := s.Tuples.Sync(ctx); err != nil {
		return "", err
	}
	path := s.Config.AdminTokenPath()
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return tok, fmt.Errorf("app: write %s: %w", path, err)
	}
	return tok, nil
}

// Serve listens and serves until ctx ends, then drains within the shutdown
// timeout. ready, when non-nil, receives the bound address.
func (s *Server) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.Config.Listen)
	if err != nil {
		return fmt.Errorf("app: listen %s: %w", s.Config.Listen, err)
	}
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		ln.Close()
		return err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.Config.ReadHeaderTimeout,
		IdleTimeout:       s.Config.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	// Event streams never finish on their own: end them when shutdown
	// begins so that draining does not wait out the timeout; agents resume
	// with Last-Event-ID elsewhere.
	hs.RegisterOnShutdown(func() { s.Events.Close() })
	hs.RegisterOnShutdown(func() { s.OpEvents.Close() })
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	s.Log.InfoContext(ctx, "plexsphere listening", "url", scheme+"://"+ln.Addr().String(), "database", string(s.DB.Dialect()))
	if ready != nil {
		ready(ln.Addr().String())
	}
	stunCtx, stopSTUN := context.WithCancel(ctx)
	defer stopSTUN()
	s.serveSTUN(stunCtx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "timeout", s.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("app: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
