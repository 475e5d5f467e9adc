package devidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ScopeGroups asks for the "groups" claim.
const ScopeGroups = "groups"

// Authentication context classes the sign-in page offers, and the methods
// (RFC 8176 amr values) each one asserts.
const (
	ACRBasic = "urn:plexsphere:dev:basic"
	ACRMFA   = "urn:plexsphere:dev:mfa"
)

// Default ACRs and methods.
var acrMethods = map[string][]string{ACRBasic: {"pwd"}, ACRMFA: {"pwd", "otp", "mfa"}}

// User is a seeded user. ID is the subject claim.
type User struct {
	ID     string
	Name   string
	Email  string
	Groups []string
}

// Client is a registered relying party.
type Client struct {
	ID string
	// Secret authenticates the client at the token endpoint; empty makes it
	// a public client (PKCE only).
	Secret       string
	RedirectURIs []string
}

// Config configures a Provider.
type Config struct {
	// Issuer is the issuer URL; its host must be a loopback address.
	Issuer  string
	Users   []User
	Clients []Client
	// IDTokenLifetime is the ID tokens' validity (default 5 minutes). Tests
	// set it negative to mint already-expired tokens.
	IDTokenLifetime time.Duration
	// IssuerForRequest, when set, overrides the issuer per request. It is a
	// test hook that lets a relying party's issuer check be exercised with
	// an otherwise genuine token; nil means the static Issuer.
	IssuerForRequest func(r *http.Request) string
	Logger           *slog.Logger
}

// Provider is a running development OpenID Provider; serve it with
// Handler on a loopback listener.
type Provider struct {
	issuer  string
	storage *storage
	op      *op.Provider
	handler http.Handler
}

// New validates cfg and builds the provider.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errors.New("devidp: Config.Issuer must be an absolute http(s) URL")
	}
	if !loopback(u.Hostname()) {
		return nil, fmt.Errorf("devidp: the development issuer serves loopback addresses only, not %q", u.Hostname())
	}
	if len(cfg.Users) == 0 || len(cfg.Clients) == 0 {
		return nil, errors.New("devidp: Config.Users and Config.Clients must not be empty")
	}
	if cfg.IDTokenLifetime == 0 {
		cfg.IDTokenLifetime = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	st := &storage{key: &signingKey{id: uuid.NewString(), key: key}, clients: map[string]*client{},
		users: map[string]*User{}, requests: map[string]*authRequest{}, codes: map[string]string{},
		tokens: map[string]*token{}, refresh: map[string]*refreshToken{}, devices: map[string]*device{},
		userCode: map[string]string{}}
	for _, us := range cfg.Users {
		us.Groups = slices.Clone(us.Groups)
		st.users[us.ID] = &us
	}
	for _, c := range cfg.Clients {
		st.clients[c.ID] = &client{id: c.ID, secret: c.Secret, redirects: slices.Clone(c.RedirectURIs), idTTL: cfg.IDTokenLifetime}
	}
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	issuer := func(bool) (op.IssuerFromRequest, error) {
		if cfg.IssuerForRequest != nil {
			return cfg.IssuerForRequest, nil
		}
		return func(*http.Request) string { return strings.TrimRight(cfg.Issuer, "/") }, nil
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:             cryptoKey,
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime: 5 * time.Minute, PollInterval: time.Second, UserFormPath: "/device", UserCode: op.UserCodeBase20,
		},
	}, st, issuer, op.WithAllowInsecure(), op.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	p := &Provider{issuer: strings.TrimRight(cfg.Issuer, "/"), storage: st, op: provider}
	p.handler = p.routes()
	cfg.Logger.Warn("DEVELOPMENT-ONLY OpenID Provider: passwordless sign-in as any seeded user; never expose it",
		"issuer", p.issuer)
	return p, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// Handler serves the provider (discovery, authorize, token, keys, userinfo,
// device authorization) and its sign-in pages.
func (p *Provider) Handler() http.Handler { return p.handler }

// SetGroups replaces a seeded user's groups; the next sign-in reports them.
func (p *Provider) SetGroups(userID string, groups []string) error {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	u, ok := p.storage.users[userID]
	if !ok {
		return errNotFound
	}
	u.Groups = slices.Clone(groups)
	return nil
}

// Users lists the seeded users.
func (p *Provider) Users() []User {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	out := make([]User, 0, len(p.storage.users))
	for _, u := range p.storage.users {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// client implements op.Client.
type client struct {
	id, secret string
	redirects  []string
	idTTL      time.Duration
}

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType is web for a confidential client and native (public,
// PKCE only) for one without a secret.
func (c *client) ApplicationType() op.ApplicationType {
	if c.secret == "" {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes adds client_credentials for confidential clients.
func (c *client) GrantTypes() []oidc.GrantType {
	gt := []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
	if c.secret != "" {
		gt = append(gt, oidc.GrantTypeClientCredentials)
	}
	return gt
}
func (c *client) LoginURL(id string) string            { return "/login?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTTL }
func (c *client) DevMode() bool                        { return true }
func (c *client) IsScopeAllowed(scope string) bool     { return scope == ScopeGroups }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html><head><meta charset="utf-8"><title>plexsphere development sign-in</title></head><body>
<p style="background:#b00;color:#fff;padding:1em;font-weight:bold">DEVELOPMENT-ONLY identity provider: anyone who reaches this page can sign in as any user. Never expose it.</p>{{end}}
{{define "login"}}{{template "head"}}<h1>Sign in as</h1>
{{range .Users}}<form method="post" action="/login/select"><input type="hidden" name="id" value="{{$.ID}}"><input type="hidden" name="user" value="{{.ID}}">
<button type="submit">{{.Name}} &lt;{{.Email}}&gt; groups: {{range .Groups}}{{.}} {{end}}</button>
<select name="acr"><option value="{{$.Basic}}"{{if eq $.Default $.Basic}} selected{{end}}>basic</option><option value="{{$.MFA}}"{{if eq $.Default $.MFA}} selected{{end}}>mfa (step-up)</option></select></form>
{{end}}</body></html>{{end}}
{{define "device"}}{{template "head"}}<h1>Approve device {{.Code}} as</h1>
{{range .Users}}<form method="post" action="/device/approve"><input type="hidden" name="user_code" value="{{$.Code}}"><input type="hidden" name="user" value="{{.ID}}">
<button type="submit">{{.Name}} &lt;{{.Email}}&gt;</button></form>{{end}}
<form method="get" action="/device"><input name="user_code" placeholder="user code"><button>Look up</button></form></body></html>{{end}}
{{define "done"}}{{template "head"}}<p>{{.}}</p></body></html>{{end}}
`))

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	ic := op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	mux.HandleFunc("GET /login", p.loginPage)
	mux.Handle("POST /login/select", ic.HandlerFunc(p.loginSelect))
	mux.HandleFunc("GET /device", p.devicePage)
	mux.HandleFunc("POST /device/approve", p.deviceApprove)
	mux.Handle("/", p.op)
	return mux
}

func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	def := ACRBasic
	p.storage.mu.Lock()
	a, ok := p.storage.requests[id]
	if ok && len(a.req.ACRValues) > 0 && acrMethods[a.req.ACRValues[0]] != nil {
		def = a.req.ACRValues[0]
	}
	p.storage.mu.Unlock()
	if !ok {
		http.Error(w, "unknown or expired authorization request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "login", map[string]any{"ID": id, "Users": p.Users(), "Basic": ACRBasic, "MFA": ACRMFA, "Default": def})
}

// loginSelect signs the chosen user in with the chosen acr (ACRBasic when
// none) and returns to the provider's authorization callback.
func (p *Provider) loginSelect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, acr := r.PostForm.Get("id"), r.PostForm.Get("acr")
	if acr == "" {
		acr = ACRBasic
	}
	amr := acrMethods[acr]
	if v := r.PostForm.Get("amr"); v != "" {
		amr = strings.Split(v, ",")
	}
	if amr == nil {
		http.Error(w, "unknown acr", http.StatusBadRequest)
		return
	}
	if err := p.storage.complete(id, r.PostForm.Get("user"), acr, amr); err != nil {
		http.Error(w, "unknown authorization request or user", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusFound)
}

func (p *Provider) devicePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "device", map[string]any{"Code": r.URL.Query().Get("user_code"), "Users": p.Users()})
}

func (p *Provider) deviceApprove(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if err := p.storage.approveDevice(r.PostForm.Get("user_code"), r.PostForm.Get("user"), acrMethods[ACRBasic]); err != nil {
		http.Error(w, "unknown or expired user code, or unknown user", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "done", "Device approved; you can close this page.")
}
