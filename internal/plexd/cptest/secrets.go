package cptest

import (
	"net/http"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Problem codes of the level-2 secret endpoints, as the real control plane
// answers them (docs/design/0007-secrets.md).
const (
	codeNotFound              = "not_found"
	codeProtocolLevelRequired = "protocol_level_required"
	codeInvalidSealingKey     = "invalid_sealing_key"
)

// secretValue is one stored secret at its current version.
type secretValue struct {
	value   string
	version int64
}

// SealingKeyPut is one PUT /v1/nodes/{id}/sealing-key as the server
// answered it.
type SealingKeyPut struct {
	NodeID, PublicKey string
	// Level is the negotiated protocol level of the request.
	Level  int
	Status int
}

// SecretFetch is one secret fetch as the server answered it.
type SecretFetch struct {
	NodeID, Key string
	// Level is the negotiated protocol level of the request.
	Level  int
	Status int
	// Sealed: the value went sealed to the node's sealing key (level 2).
	Sealed bool
}

// SealingKey is the sealing public key the server holds for a node, ""
// when it registered none.
func (s *Server) SealingKey(nodeID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[nodeID]; n != nil {
		return n.sealingKey
	}
	return ""
}

// SetSealingKey replaces the sealing key the server holds for a node, as
// a control plane holding a stale or foreign key would.
func (s *Server) SetSealingKey(nodeID, publicKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[nodeID].sealingKey = publicKey
}

// level is the negotiated level of r (N3).
func (s *Server) level(r *http.Request) int {
	return nodeproto.NegotiateLevel(nodeproto.ParseLevel(r.Header.Get(nodeproto.HeaderPlexdProtocol)), s.maxLevel)
}

// putSealingKey serves PUT /v1/nodes/{id}/sealing-key (level 2 only): a
// control plane below level 2 does not know the route (404); a level-1
// request is 400; a key that is not Key32, or is the node's WireGuard key,
// is 400; a new key replaces the old one.
func (s *Server) putSealingKey(w http.ResponseWriter, r *http.Request, n *node) {
	put := SealingKeyPut{NodeID: n.id, Level: s.level(r)}
	defer func() { send(s.SealingKeys, put) }()
	var req nodeproto.SealingKeyRequest
	decodeErr := decode(r, &req)
	put.PublicKey = req.PublicKey
	kid, kidErr := nodeproto.SealingKID(req.PublicKey)
	s.mu.Lock()
	wireGuardKey := n.publicKey
	s.mu.Unlock()
	fail := func(status int, code string) { put.Status = status; problem(w, status, code) }
	switch {
	case s.maxLevel < nodeproto.Level2:
		fail(http.StatusNotFound, codeNotFound)
	case put.Level < nodeproto.Level2:
		fail(http.StatusBadRequest, codeProtocolLevelRequired)
	case decodeErr != nil:
		fail(http.StatusBadRequest, nodeproto.CodeInvalidRequest)
	case kidErr != nil || req.PublicKey == wireGuardKey:
		fail(http.StatusBadRequest, codeInvalidSealingKey)
	default:
		s.mu.Lock()
		n.sealingKey = req.PublicKey
		s.mu.Unlock()
		put.Status = http.StatusOK
		writeJSON(w, http.StatusOK, nodeproto.SealingKeyResponse{KID: kid, PublicKey: req.PublicKey})
	}
}

// secret serves GET /v1/nodes/{id}/secrets/{key} (§11): sealed to the
// node's sealing key at level 2 once it registered one, else level 1
// under the NSK; a level-1 fetch of a node with a sealing key is 403
// protocol_downgrade_refused.
func (s *Server) secret(w http.ResponseWriter, r *http.Request, n *node) {
	key := r.PathValue("key")
	f := SecretFetch{NodeID: n.id, Key: key, Level: s.level(r)}
	defer func() { send(s.SecretFetches, f) }()
	s.mu.Lock()
	val, ok := s.secrets[key]
	sealingKey, nsk := n.sealingKey, n.nsk
	s.mu.Unlock()
	fail := func(status int, code string) { f.Status = status; problem(w, status, code) }
	if !ok {
		fail(http.StatusNotFound, nodeproto.CodeSecretNotFound)
		return
	}
	if sealingKey != "" && f.Level < nodeproto.Level2 {
		fail(http.StatusForbidden, nodeproto.CodeProtocolDowngradeRefused)
		return
	}
	var resp nodeproto.SecretResponse
	var err error
	if sealingKey != "" {
		resp, err = nodeproto.SealSecretToNode(sealingKey, n.id, key, val.version, []byte(val.value))
	} else {
		resp, err = nodeproto.SealSecret(nsk, key, val.version, []byte(val.value), nil)
	}
	if err != nil {
		fail(http.StatusInternalServerError, "internal")
		return
	}
	f.Status, f.Sealed = http.StatusOK, resp.Sealed != ""
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}
