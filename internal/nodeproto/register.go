package nodeproto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RegisterRequest is the body of POST /v1/register. It is the union of the
// agent form (§4.1: token, public_key, hostname, metadata?, capabilities?)
// and the contract form of api.md (project_id, resource_id,
// bootstrap_token, nonce, public_key, requested_resource_id?); the control
// plane accepts both (api.md §6). Our plexd sends the agent form.
type RegisterRequest struct {
	Token        string            `json:"token"`
	PublicKey    string            `json:"public_key"` // WireGuard Key32, both forms
	Hostname     string            `json:"hostname"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	Capabilities *Capabilities     `json:"capabilities,omitempty"`

	ProjectID           string `json:"project_id,omitempty"`
	ResourceID          string `json:"resource_id,omitempty"`
	BootstrapToken      string `json:"bootstrap_token,omitempty"`
	Nonce               string `json:"nonce,omitempty"`
	RequestedResourceID string `json:"requested_resource_id,omitempty"`
}

// Registration credential errors (§3.1, §4.3).
var (
	// ErrTokenMissing: no token in the body (401 invalid_token).
	ErrTokenMissing = errors.New("nodeproto: no bootstrap token in the request")
	// ErrTokenMismatch: bearer and body token differ, or the agent form
	// came without a bearer (401 token_mismatch).
	ErrTokenMismatch = errors.New("nodeproto: bearer and body token differ")
)

// Credential returns the bootstrap token the request presents. bearer is the
// token from "Authorization: Bearer" ("" when absent; see ParseBearer). In
// the agent form the bearer is required and must equal body token (§3.1);
// in the contract form bootstrap_token is the credential and a bearer, if
// sent, must equal it. A request carrying both body members must carry the
// same value in both.
func (r *RegisterRequest) Credential(bearer string) (string, error) {
	tok := r.Token
	switch {
	case tok != "" && r.BootstrapToken != "" && !equalSecret(tok, r.BootstrapToken):
		return "", ErrTokenMismatch
	case tok == "" && r.BootstrapToken == "":
		return "", ErrTokenMissing
	case tok == "":
		tok = r.BootstrapToken
		if bearer != "" && !equalSecret(bearer, tok) {
			return "", ErrTokenMismatch
		}
		return tok, nil
	}
	if !equalSecret(bearer, tok) {
		return "", ErrTokenMismatch
	}
	return tok, nil
}

// Validate checks the public key (§4.1: 400 invalid_request if not Key32
// or all zero). Everything else is informational or judged by enrolment.
func (r *RegisterRequest) Validate() error {
	if !ValidWireGuardKey(r.PublicKey) {
		return invalid("public_key", "not a non-zero Key32")
	}
	return nil
}

func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// ParseBearer extracts the credential of an Authorization header value
// "Bearer <credential>" (scheme case-insensitive). It reports false when the
// header is absent, of another scheme, or empty (401 unauthenticated, §3.3).
func ParseBearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	// Bootstrap tokens may contain inner spaces (§3.1) but never start with
	// one, so only the separator run is trimmed.
	c := strings.TrimLeft(h[len(scheme):], " ")
	return c, c != ""
}

// RegisterResponse answers POST /v1/register (§4.2): the union of the agent
// form (node_id, mesh_ip, signing_public_key, node_secret_key, peers) and
// the contract form (node_id, mesh_ip, signing_public_key, signing_key_id,
// nsk, peer_snapshot, domain_mesh_cidr). MarshalJSON fills each alias from
// its twin, so the control plane sets one of them and both clients work.
type RegisterResponse struct {
	NodeID           string `json:"node_id"`            // ID
	MeshIP           string `json:"mesh_ip"`            // bare IPv4
	SigningPublicKey string `json:"signing_public_key"` // Ed25519 Key32 (§8)
	NodeSecretKey    string `json:"node_secret_key"`    // the NSK (§3.2), returned once
	Peers            []Peer `json:"peers"`              // present, may be []

	SigningKeyID   string         `json:"signing_key_id,omitempty"`
	NSK            string         `json:"nsk,omitempty"` // = node_secret_key
	PeerSnapshot   []SnapshotPeer `json:"peer_snapshot"`
	DomainMeshCIDR string         `json:"domain_mesh_cidr,omitempty"`

	// NodeSecretKeySealed is level 2 (ours): the NSK sealed to the node's
	// WireGuard key (SealNSK). A replay of a node registered at level 2
	// carries the NSK only here (node_secret_key and nsk empty).
	NodeSecretKeySealed string `json:"node_secret_key_sealed,omitempty"`
}

// SnapshotPeer is a peer_snapshot entry of the contract form (api.md §3.6).
type SnapshotPeer struct {
	NodeID           string `json:"node_id"`
	MeshIP           string `json:"mesh_ip"`
	PublicKey        string `json:"public_key"`
	FallbackEndpoint string `json:"fallback_endpoint,omitempty"`
}

// FillAliases copies node_secret_key and nsk into each other when one is
// empty, and derives peer_snapshot from peers when it is nil. Decoders call
// it to read either form through the agent-form fields.
func (r *RegisterResponse) FillAliases() {
	if r.NodeSecretKey == "" {
		r.NodeSecretKey = r.NSK
	}
	if r.NSK == "" {
		r.NSK = r.NodeSecretKey
	}
	if r.PeerSnapshot == nil && r.Peers != nil {
		r.PeerSnapshot = make([]SnapshotPeer, len(r.Peers))
		for i, p := range r.Peers {
			r.PeerSnapshot[i] = SnapshotPeer{NodeID: p.ID, MeshIP: p.MeshIP, PublicKey: p.PublicKey}
		}
	}
}

// MarshalJSON renders the union form: aliases filled, arrays never null.
func (r RegisterResponse) MarshalJSON() ([]byte, error) {
	r.FillAliases()
	type wire RegisterResponse
	w := wire(r)
	w.Peers = nonNil(w.Peers)
	w.PeerSnapshot = nonNil(w.PeerSnapshot)
	return json.Marshal(w)
}

// Validate checks what compatibility item C1 requires of a response; a
// level-2 answer may carry the NSK only sealed (OpenNSK reads it).
func (r *RegisterResponse) Validate() error {
	switch {
	case !ValidID(r.NodeID):
		return invalid("node_id", "not an ID")
	case !ValidMeshIP(r.MeshIP):
		return invalid("mesh_ip", "not a bare IPv4 address")
	case !ValidKey32(r.SigningPublicKey):
		return invalid("signing_public_key", "not a Key32")
	case !ValidNSK(r.NodeSecretKey) && (r.NodeSecretKey != "" || r.NodeSecretKeySealed == ""):
		return invalid("node_secret_key", "not 32 printable ASCII characters")
	case r.NSK != "" && r.NSK != r.NodeSecretKey:
		return invalid("nsk", "differs from node_secret_key")
	case r.DomainMeshCIDR != "" && !ValidCIDR(r.DomainMeshCIDR):
		return invalid("domain_mesh_cidr", "not a CIDR")
	}
	for i := range r.Peers {
		if err := r.Peers[i].Validate(); err != nil {
			return within(index("peers", i), err)
		}
	}
	return nil
}

// NSKLen is the length of every NSK in bytes (§3.2).
const NSKLen = 32

// ValidNSK reports whether s has the NSK format (§3.2): exactly 32 bytes of
// printable ASCII 0x21–0x7E.
func ValidNSK(s string) bool {
	if len(s) != NSKLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// NewNSK mints an NSK the recommended way (§3.2): base64url without padding
// of 24 bytes from r (crypto/rand when r is nil), 192 bits in 32 characters.
func NewNSK(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [24]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("nodeproto: mint NSK: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
