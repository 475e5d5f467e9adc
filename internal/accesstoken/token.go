// Package accesstoken signs and verifies the session JWT of mediated access
// (api.md §3.9): compact JWS, alg EdDSA (Ed25519), kid in the header,
// signed by the control plane with the Domain signing key and verified by
// plexd's access listener with the Domain keys it already trusts for
// event envelopes.
//
// Claims: iss "domain:<uuid>", sub the identity id, aud ["resource:<uuid>",
// "node:<uuid>"], jti the session id, iat, nbf, exp, kind, target, and our
// additive members: groups and name (for Kubernetes impersonation),
// authorized_key (the operator's SSH public key bound into an ssh session)
// and src (the only mesh address that may present the token, the session
// gateway's).
//
// Signing is deterministic (Ed25519 and a fixed member order), so the same
// claims always give the same token: an idempotent repeat of an issuance
// returns the original token without the token ever being stored.
package accesstoken

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Kinds of session.
const (
	KindSSH = nodeproto.SessionSSH
	KindK8s = nodeproto.SessionK8s
	KindTCP = nodeproto.SessionTCP
)

// MaxTokenBytes bounds a token before it is parsed.
const MaxTokenBytes = 8 << 10

// Leeway is the clock skew allowed on nbf and exp.
const Leeway = 5 * time.Second

// Errors of Verify; callers map them to the listener's refusal codes.
var (
	ErrMalformed = errors.New("accesstoken: malformed token")
	ErrSignature = errors.New("accesstoken: signature does not verify with any trusted key")
	ErrExpired   = errors.New("accesstoken: token expired")
	ErrNotYet    = errors.New("accesstoken: token not valid yet")
	ErrAudience  = errors.New("accesstoken: token is for another audience")
)

// Target is the kind's target: ssh {user, allowed_commands}, k8s {user,
// impersonate_groups}, tcp {host, port}.
type Target = nodeproto.SessionTarget

// Claims are the token's claims.
type Claims struct {
	Issuer        string           `json:"iss"`
	Subject       string           `json:"sub"`
	Audience      jwt.Audience     `json:"aud"`
	ID            string           `json:"jti"`
	IssuedAt      *jwt.NumericDate `json:"iat"`
	NotBefore     *jwt.NumericDate `json:"nbf"`
	Expiry        *jwt.NumericDate `json:"exp"`
	Kind          string           `json:"kind"`
	Target        Target           `json:"target"`
	Name          string           `json:"name,omitempty"`
	Groups        []string         `json:"groups,omitempty"`
	AuthorizedKey string           `json:"authorized_key,omitempty"`
	Source        string           `json:"src,omitempty"`
}

// DomainIssuer, ResourceAudience and NodeAudience spell the iss and aud
// members.
func DomainIssuer(domainID string) string       { return "domain:" + domainID }
func ResourceAudience(resourceID string) string { return "resource:" + resourceID }
func NodeAudience(nodeID string) string         { return "node:" + nodeID }

// Signer signs a message with a named Ed25519 key (the control plane's
// signing.Local.SignWith).
type Signer func(ctx context.Context, kid string, msg []byte) ([]byte, error)

// Sign returns the compact token of c signed by kid through sign.
func Sign(ctx context.Context, kid string, public ed25519.PublicKey, sign Signer, c Claims) (string, error) {
	if kid == "" || len(public) != ed25519.PublicKeySize {
		return "", errors.New("accesstoken: a kid and an Ed25519 public key are required")
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: opaque{ctx: ctx, kid: kid, pub: public, sign: sign}},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return "", fmt.Errorf("accesstoken: %w", err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("accesstoken: sign: %w", err)
	}
	return tok, nil
}

// SignWithKey signs c with a private key held in memory (tests, tools).
func SignWithKey(kid string, key ed25519.PrivateKey, c Claims) (string, error) {
	return Sign(context.Background(), kid, key.Public().(ed25519.PublicKey),
		func(_ context.Context, _ string, msg []byte) ([]byte, error) { return ed25519.Sign(key, msg), nil }, c)
}

// opaque adapts a Signer to go-jose's OpaqueSigner.
type opaque struct {
	ctx  context.Context
	kid  string
	pub  ed25519.PublicKey
	sign Signer
}

func (o opaque) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.pub, KeyID: o.kid, Algorithm: string(jose.EdDSA)}
}

func (o opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.EdDSA} }

func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.EdDSA {
		return nil, fmt.Errorf("accesstoken: algorithm %s", alg)
	}
	return o.sign(o.ctx, o.kid, payload)
}

// Verify checks token against keys (tried in order; the header's kid is
// only a hint) and returns its claims when the signature verifies, the
// audience list holds audience, and now is inside [nbf, exp] (with
// Leeway). The caller checks the rest (jti seen and not revoked, kind,
// source).
func Verify(token string, keys []ed25519.PublicKey, audience string, now time.Time) (Claims, error) {
	var c Claims
	if len(token) == 0 || len(token) > MaxTokenBytes {
		return c, ErrMalformed
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return c, ErrMalformed
	}
	verified := false
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			continue
		}
		if err := tok.Claims(k, &c); err == nil {
			verified = true
			break
		}
		c = Claims{}
	}
	if !verified {
		return Claims{}, ErrSignature
	}
	switch {
	case c.ID == "" || c.Expiry == nil || c.Kind == "":
		return c, ErrMalformed
	case !slices.Contains([]string(c.Audience), audience):
		return c, ErrAudience
	case now.Add(-Leeway).After(c.Expiry.Time()):
		return c, ErrExpired
	case c.NotBefore != nil && now.Add(Leeway).Before(c.NotBefore.Time()):
		return c, ErrNotYet
	}
	return c, nil
}

// Unverified reads the claims without checking anything: for a client
// that wants its own token's expiry. Never use it to grant access.
func Unverified(token string) (Claims, error) {
	var c Claims
	if len(token) == 0 || len(token) > MaxTokenBytes {
		return c, ErrMalformed
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return c, ErrMalformed
	}
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return c, ErrMalformed
	}
	return c, nil
}
