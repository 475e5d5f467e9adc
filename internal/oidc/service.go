package oidc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/keyring"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/session"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Defaults.
const (
	// FlowTTL bounds the time between sign-in and callback.
	FlowTTL = 10 * time.Minute
	// providerTTL is how long a fetched discovery document is reused.
	providerTTL = 10 * time.Minute
	// idpTimeout bounds each call to an IdP.
	idpTimeout = 10 * time.Second
)

// Authorizer is the authorization this context needs.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
	Visible(ctx context.Context, permission string, objects []string) ([]bool, error)
}

// TupleWriter writes relation tuples inside the caller's transaction (the
// ReBAC store's write API). Group membership synced from the IdP goes
// through it.
type TupleWriter interface {
	Write(ctx context.Context, tx *sql.Tx, add, remove []authz.Tuple) error
}

// TupleSyncer is optionally implemented by a TupleWriter whose in-memory
// index must be refreshed after the writing transaction commits.
type TupleSyncer interface {
	Sync(ctx context.Context) error
}

// Config configures the Service.
type Config struct {
	DB       *store.DB
	Audit    *audit.Log
	Authz    Authorizer
	Pages    *page.Codec
	Keyring  *keyring.Keyring
	Sessions *session.Service
	// Tuples writes group membership tuples.
	Tuples TupleWriter
	// Invitations, optional, redeems invitations at first sign-in.
	Invitations Invitations
	// PublicURL is the server's external base URL (the callback is
	// <PublicURL>/v1/auth/callback). Empty derives it from each request.
	PublicURL string
	// TrustProxyHeaders takes the scheme from X-Forwarded-Proto.
	TrustProxyHeaders bool
	// HTTPClient talks to IdPs; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves IdP bindings, sign-in and the callback.
type Service struct {
	db       *store.DB
	audit    *audit.Log
	authz    Authorizer
	pages    *page.Codec
	keys     *keyring.Keyring
	sessions *session.Service
	tuples   TupleWriter
	// invitations is optional (nil: no redemption).
	invitations Invitations
	publicURL   string
	proxy       bool
	http        *http.Client
	log         *slog.Logger
	now         func() time.Time

	// mu guards providers.
	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p         *gooidc.Provider
	discovery string
	issuer    string
	fetched   time.Time
}

// NewService validates cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("oidc: Config.DB is required")
	case cfg.Audit == nil:
		return nil, errors.New("oidc: Config.Audit is required")
	case cfg.Authz == nil:
		return nil, errors.New("oidc: Config.Authz is required")
	case cfg.Pages == nil:
		return nil, errors.New("oidc: Config.Pages is required")
	case cfg.Keyring == nil:
		return nil, errors.New("oidc: Config.Keyring is required")
	case cfg.Sessions == nil:
		return nil, errors.New("oidc: Config.Sessions is required")
	case cfg.Tuples == nil:
		return nil, errors.New("oidc: Config.Tuples is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: idpTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		db: cfg.DB, audit: cfg.Audit, authz: cfg.Authz, pages: cfg.Pages, keys: cfg.Keyring, sessions: cfg.Sessions,
		tuples: cfg.Tuples, invitations: cfg.Invitations, publicURL: strings.TrimRight(cfg.PublicURL, "/"), proxy: cfg.TrustProxyHeaders,
		http: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now, providers: map[string]cachedProvider{},
	}, nil
}

// provider returns the go-oidc provider of a binding, from its discovery
// document. The document's issuer must equal the binding's (fail closed).
func (s *Service) provider(ctx context.Context, b *Binding) (*gooidc.Provider, error) {
	s.mu.Lock()
	c, ok := s.providers[b.ID]
	s.mu.Unlock()
	if ok && c.discovery == b.DiscoveryURL && c.issuer == b.Issuer && s.now().Sub(c.fetched) < providerTTL {
		return c.p, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.DiscoveryURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidc: discovery: %s answered %d", b.DiscoveryURL, resp.StatusCode)
	}
	var doc struct {
		Issuer        string   `json:"issuer"`
		AuthURL       string   `json:"authorization_endpoint"`
		TokenURL      string   `json:"token_endpoint"`
		DeviceAuthURL string   `json:"device_authorization_endpoint"`
		UserInfoURL   string   `json:"userinfo_endpoint"`
		JWKSURL       string   `json:"jwks_uri"`
		Algorithms    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("oidc: discovery: decode: %w", err)
	}
	if strings.TrimRight(doc.Issuer, "/") != b.Issuer {
		return nil, fmt.Errorf("oidc: discovery: issuer %q does not match the binding's %q", doc.Issuer, b.Issuer)
	}
	pc := gooidc.ProviderConfig{IssuerURL: doc.Issuer, AuthURL: doc.AuthURL, TokenURL: doc.TokenURL,
		DeviceAuthURL: doc.DeviceAuthURL, UserInfoURL: doc.UserInfoURL, JWKSURL: doc.JWKSURL, Algorithms: doc.Algorithms}
	p := pc.NewProvider(gooidc.ClientContext(context.WithoutCancel(ctx), s.http))
	s.mu.Lock()
	s.providers[b.ID] = cachedProvider{p: p, discovery: b.DiscoveryURL, issuer: b.Issuer, fetched: s.now()}
	s.mu.Unlock()
	return p, nil
}

// RequireStepUp checks a sensitive operation's caller, whatever its
// credential (session, device login, service token, API token): the acr and
// amr it carries from its sign-in must include one of its binding's
// required ACRs and every required AMR (issue 7 row 3). Break-glass tokens
// (the first-start admin token and those it minted) pass; a credential with
// no binding otherwise (tokens of unknown origin) or whose binding is gone
// fails closed.
func (s *Service) RequireStepUp(ctx context.Context, p *principal.Principal) error {
	switch {
	case p == nil || p.BreakGlass:
		return nil
	case p.IdPBindingID == "":
		return stepUp(nil)
	}
	b, err := s.binding(ctx, s.db, p.IdPBindingID)
	if errors.Is(err, errBindingNotFound) {
		return stepUp(nil)
	}
	if err != nil {
		return problem.Unavailable("datastore_unavailable", err)
	}
	acrOK := len(b.RequiredACR) == 0 || slices.Contains(b.RequiredACR, p.ACR)
	amrOK := true
	for _, m := range b.RequiredAMR {
		if !slices.Contains(p.AMR, m) {
			amrOK = false
		}
	}
	switch {
	case !acrOK:
		return stepUp(b.RequiredACR)
	case !amrOK:
		return stepUp(nil)
	}
	return nil
}

// stepUp is the RFC 9470 challenge.
func stepUp(acrValues []string) *problem.Problem {
	ch := `Bearer error="insufficient_user_authentication", error_description="A stronger authentication is required"`
	if len(acrValues) > 0 {
		ch += `, acr_values="` + strings.Join(acrValues, " ") + `"`
	}
	return problem.New(http.StatusUnauthorized, "step_up_required",
		"This operation requires a stronger sign-in; authenticate again with the binding's required acr/amr.").
		WithHeader("WWW-Authenticate", ch)
}

// chainOf is the audit chain of a Domain id ("" = platform).
func chainOf(domainID string) string {
	if domainID != "" {
		return domainID
	}
	return audit.PlatformChain
}
