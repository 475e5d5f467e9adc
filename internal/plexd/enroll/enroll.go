// Package enroll turns a bootstrap token into a node identity
// (spec/node-protocol.md §3.1, §4): it resolves the token from its sources,
// generates the WireGuard key pair once per run, registers with the
// spec's retry rules (429 and 5xx retried with backoff for up to 5
// minutes; 400, 401, 403, 404 and 409 fatal) and saves the identity
// atomically.
package enroll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
	"github.com/plexsphere/plexsphere/internal/plexd/stream"
)

// Registration retry budget (§4.3).
const (
	RetryFor   = 5 * time.Minute
	minBackoff = 1 * time.Second
	maxBackoff = 60 * time.Second
)

// ErrNoToken: no source supplied a bootstrap token.
var ErrNoToken = errors.New("no bootstrap token: pass --token or --token-file, set PLEXD_BOOTSTRAP_TOKEN, or run interactively")

// ResolveToken picks the bootstrap token from the highest layer that set
// one (flag > env > file), reading token_file when it wins; with none set
// it asks prompt (nil: ErrNoToken). The token is trimmed and checked
// (§3.1); it is never logged.
func ResolveToken(cfg *config.Config, prompt func() (string, error)) (string, error) {
	tokL, fileL := cfg.Origin[config.KeyToken], cfg.Origin[config.KeyTokenFile]
	if cfg.Token == "" {
		tokL = 0
	}
	if cfg.TokenFile == "" {
		fileL = 0
	}
	var tok string
	switch {
	case tokL != 0 && tokL == fileL:
		return "", fmt.Errorf("both token and token_file are set in the %s", tokL)
	case fileL > tokL:
		raw, err := readTokenFile(cfg.TokenFile)
		if err != nil {
			return "", err
		}
		tok = raw
	case tokL != 0:
		tok = cfg.Token
	case prompt != nil:
		p, err := prompt()
		if err != nil {
			return "", fmt.Errorf("reading the bootstrap token: %w", err)
		}
		tok = p
	default:
		return "", ErrNoToken
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", ErrNoToken
	}
	if !nodeproto.ValidBootstrapToken(tok) {
		return "", errors.New("the bootstrap token is not 1-512 printable ASCII characters")
	}
	return tok, nil
}

func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return string(raw), nil
}

// Registrar is the registration call. *cpclient.Client implements it.
type Registrar interface {
	Register(ctx context.Context, token string, req nodeproto.RegisterRequest) (*nodeproto.RegisterResponse, error)
}

// Options configures Join.
type Options struct {
	Client   Registrar       // required
	Store    *identity.Store // required
	Token    string          // required; never logged
	Server   string
	Hostname string
	Mode     string
	Metadata map[string]string
	Clock    clock.Clock
	Logger   *slog.Logger
	// Rand feeds the key pair (crypto/rand when nil).
	Rand io.Reader
	// Jitter returns a float in [0,1) (math/rand/v2 when nil).
	Jitter func() float64
	// RetryFor defaults to RetryFor; MinBackoff to 1 s.
	RetryFor, MinBackoff time.Duration
}

// Join registers the node and saves its identity.
func Join(ctx context.Context, o Options) (*identity.Identity, error) {
	switch {
	case o.Client == nil:
		return nil, errors.New("enroll: Options.Client is required")
	case o.Store == nil:
		return nil, errors.New("enroll: Options.Store is required")
	case o.Token == "":
		return nil, ErrNoToken
	}
	clk := clock.OrReal(o.Clock)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.RetryFor <= 0 {
		o.RetryFor = RetryFor
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = minBackoff
	}
	kp, err := identity.NewKeyPair(o.Rand)
	if err != nil {
		return nil, err
	}
	req := nodeproto.RegisterRequest{PublicKey: kp.Public, Hostname: o.Hostname, Metadata: o.Metadata}
	deadline := clk.Now().Add(o.RetryFor)
	var resp *nodeproto.RegisterResponse
	for attempt := 0; ; attempt++ {
		resp, err = o.Client.Register(ctx, o.Token, req)
		if err == nil {
			break
		}
		if fatal(err) || ctx.Err() != nil || !clk.Now().Before(deadline) {
			return nil, fmt.Errorf("enroll: %w", err)
		}
		wait := stream.Backoff(attempt, o.MinBackoff, maxBackoff, o.Jitter)
		var se *cpclient.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		o.Logger.LogAttrs(ctx, slog.LevelWarn, "registration failed; retrying", slog.String(logkey.Error, err.Error()), slog.Duration(logkey.RetryIn, wait))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("enroll: %w", ctx.Err())
		case <-clk.After(wait):
		}
	}
	// Level 2: the NSK may come sealed to our WireGuard key (always so on a
	// replay of a level-2 registration); opening it proves the key is ours.
	nsk, err := resp.OpenNSK(kp.Private)
	if err != nil {
		return nil, fmt.Errorf("enroll: registration answer: %w", err)
	}
	id := &identity.Identity{
		NodeID: resp.NodeID, MeshIP: resp.MeshIP, NSK: nsk,
		PrivateKey: kp.Private, PublicKey: kp.Public,
		RegistrationSigningKey: resp.SigningPublicKey,
		SigningKeys:            nodeproto.SigningKeys{Current: resp.SigningPublicKey},
		Server:                 o.Server, Hostname: o.Hostname, Mode: o.Mode, RegisteredAt: clk.Now().UTC(),
	}
	if err := o.Store.Save(id); err != nil {
		return nil, fmt.Errorf("enroll: registered as %s but saving the identity failed: %w", id.NodeID, err)
	}
	o.Logger.LogAttrs(ctx, slog.LevelInfo, "node registered", slog.Any(logkey.Identity, id))
	return id, nil
}

// fatal reports the answers the existing agent exits on (§2.4 R4, §4.3).
func fatal(err error) bool {
	return cpclient.IsStatus(err, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusConflict)
}
