package nodeproto

import "encoding/json"

// Event types of the level-1 catalogue (§10), in catalogue order.
const (
	EventSigningKeyRotated        = "signing_key_rotated"
	EventNodeStateUpdated         = "node_state_updated"
	EventNodeSecretsUpdated       = "node_secrets_updated"
	EventPeerAdded                = "peer_added"
	EventPeerRemoved              = "peer_removed"
	EventPeerKeyRotated           = "peer_key_rotated"
	EventPeerEndpointChanged      = "peer_endpoint_changed"
	EventPolicyUpdated            = "policy_updated"
	EventActionRequest            = "action_request"
	EventSessionRevoked           = "session_revoked"
	EventSSHSessionSetup          = "ssh_session_setup"
	EventRotateKeys               = "rotate_keys"
	EventBridgeConfigUpdated      = "bridge_config_updated"
	EventRelaySessionAssigned     = "relay_session_assigned"
	EventRelaySessionRevoked      = "relay_session_revoked"
	EventUserAccessConfigUpdated  = "user_access_config_updated"
	EventUserAccessPeerAssigned   = "user_access_peer_assigned"
	EventUserAccessPeerRevoked    = "user_access_peer_revoked"
	EventIngressConfigUpdated     = "ingress_config_updated"
	EventIngressRuleAssigned      = "ingress_rule_assigned"
	EventIngressRuleRevoked       = "ingress_rule_revoked"
	EventSiteToSiteConfigUpdated  = "site_to_site_config_updated"
	EventSiteToSiteTunnelAssigned = "site_to_site_tunnel_assigned"
	EventSiteToSiteTunnelRevoked  = "site_to_site_tunnel_revoked"
)

// eventPayloads maps each catalogue type to a constructor of its payload.
var eventPayloads = map[string]func() any{
	EventSigningKeyRotated:        func() any { return new(SigningKeys) },
	EventNodeStateUpdated:         func() any { return new(NodeStateUpdated) },
	EventNodeSecretsUpdated:       func() any { return new(NodeSecretsUpdated) },
	EventPeerAdded:                func() any { return new(Peer) },
	EventPeerRemoved:              func() any { return new(PeerRemoved) },
	EventPeerKeyRotated:           func() any { return new(Peer) },
	EventPeerEndpointChanged:      func() any { return new(Peer) },
	EventPolicyUpdated:            func() any { return new(PolicyUpdated) },
	EventActionRequest:            func() any { return new(ActionRequest) },
	EventSessionRevoked:           func() any { return new(SessionRevoked) },
	EventSSHSessionSetup:          func() any { return new(SSHSessionSetup) },
	EventSessionSetup:             func() any { return new(SessionSetup) },
	EventRotateKeys:               func() any { return new(Empty) },
	EventBridgeConfigUpdated:      func() any { return new(Empty) },
	EventRelaySessionAssigned:     func() any { return new(RelaySession) },
	EventRelaySessionRevoked:      func() any { return new(RelaySessionRevoked) },
	EventUserAccessConfigUpdated:  func() any { return new(Empty) },
	EventUserAccessPeerAssigned:   func() any { return new(UserAccessPeer) },
	EventUserAccessPeerRevoked:    func() any { return new(UserAccessPeerRevoked) },
	EventIngressConfigUpdated:     func() any { return new(Empty) },
	EventIngressRuleAssigned:      func() any { return new(IngressRule) },
	EventIngressRuleRevoked:       func() any { return new(IngressRuleRevoked) },
	EventSiteToSiteConfigUpdated:  func() any { return new(Empty) },
	EventSiteToSiteTunnelAssigned: func() any { return new(SiteToSiteTunnel) },
	EventSiteToSiteTunnelRevoked:  func() any { return new(SiteToSiteTunnelRevoked) },
}

// EventTypes lists every level-1 event type in catalogue order (§10).
func EventTypes() []string {
	return []string{
		EventSigningKeyRotated, EventNodeStateUpdated, EventNodeSecretsUpdated,
		EventPeerAdded, EventPeerRemoved, EventPeerKeyRotated, EventPeerEndpointChanged,
		EventPolicyUpdated, EventActionRequest, EventSessionRevoked, EventSSHSessionSetup,
		EventRotateKeys, EventBridgeConfigUpdated, EventRelaySessionAssigned,
		EventRelaySessionRevoked, EventUserAccessConfigUpdated, EventUserAccessPeerAssigned,
		EventUserAccessPeerRevoked, EventIngressConfigUpdated, EventIngressRuleAssigned,
		EventIngressRuleRevoked, EventSiteToSiteConfigUpdated, EventSiteToSiteTunnelAssigned,
		EventSiteToSiteTunnelRevoked,
	}
}

// NewEventPayload returns a pointer to a zero payload of eventType, ready
// for json.Unmarshal, and false for a type outside the catalogue (which
// agents drop, X5/X7).
func NewEventPayload(eventType string) (any, bool) {
	f, ok := eventPayloads[eventType]
	if !ok {
		return nil, false
	}
	return f(), true
}

// PolicyUpdated is the payload of policy_updated: {} at level 1 (the
// agent ignores it and reconciles, §10) and, at level 2, the recipient's
// compiled ruleset, the same object as its state's policy block
// (docs/design/0006-policy.md). Policy is nil for {}.
type PolicyUpdated struct {
	Policy *NodeStatePolicy
}

// MarshalJSON renders {} for a nil Policy, else the policy object.
func (u PolicyUpdated) MarshalJSON() ([]byte, error) {
	if u.Policy == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(*u.Policy)
}

// UnmarshalJSON reads {} as a nil Policy and any other object as one.
func (u *PolicyUpdated) UnmarshalJSON(b []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	if len(members) == 0 {
		u.Policy = nil
		return nil
	}
	u.Policy = new(NodeStatePolicy)
	return json.Unmarshal(b, u.Policy)
}

// Empty is the payload {} of rotate_keys and the
// *_config_updated events (E1: payloads are objects, {} where ignored).
type Empty struct{}

// NodeStateUpdated replaces the node's metadata and data sets (§10). It
// cannot be split (E5).
type NodeStateUpdated struct {
	Metadata map[string]string `json:"metadata"`
	Data     []DataEntry       `json:"data"`
}

// MarshalJSON renders nil Metadata as {} and nil Data as [].
func (u NodeStateUpdated) MarshalJSON() ([]byte, error) {
	type wire NodeStateUpdated
	w := wire(u)
	if w.Metadata == nil {
		w.Metadata = map[string]string{}
	}
	w.Data = nonNil(w.Data)
	return json.Marshal(w)
}

// NodeSecretsUpdated replaces the node's secret index (§10).
type NodeSecretsUpdated struct {
	SecretRefs []SecretRef `json:"secret_refs"`
}

// MarshalJSON renders nil SecretRefs as [].
func (u NodeSecretsUpdated) MarshalJSON() ([]byte, error) {
	type wire NodeSecretsUpdated
	w := wire(u)
	w.SecretRefs = nonNil(w.SecretRefs)
	return json.Marshal(w)
}

// PeerRemoved is the peer_removed payload.
type PeerRemoved struct {
	PeerID string `json:"peer_id"`
}

// SessionRevoked is the session_revoked payload.
type SessionRevoked struct {
	SessionID string `json:"session_id"`
}

// RelaySessionRevoked is the relay_session_revoked payload.
type RelaySessionRevoked struct {
	SessionID string `json:"session_id"`
}

// UserAccessPeerRevoked is the user_access_peer_revoked payload.
type UserAccessPeerRevoked struct {
	PublicKey string `json:"public_key"` // Key32
}

// IngressRuleRevoked is the ingress_rule_revoked payload.
type IngressRuleRevoked struct {
	RuleID string `json:"rule_id"`
}

// SiteToSiteTunnelRevoked is the site_to_site_tunnel_revoked payload.
type SiteToSiteTunnelRevoked struct {
	TunnelID string `json:"tunnel_id"`
}
