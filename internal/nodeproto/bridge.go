package nodeproto

import (
	"encoding/json"
	"time"
)

// Node-side limits of the existing agent (§12.4–§12.6). The control plane
// should not assign more; the agent drops the excess.
const (
	MaxSSHSessions          = 10
	MaxConcurrentExecutions = 5
	MaxRelaySessions        = 100
	MaxIngressRules         = 20
	MaxSiteToSiteTunnels    = 10
)

// Node-local defaults of the existing agent (§12.1, §12.6).
const (
	DefaultMeshInterface       = "plexd0"
	DefaultMeshPort            = 51820
	DefaultRelayPort           = 51821
	DefaultUserAccessInterface = "wg-access"
	DefaultUserAccessPort      = 51822
)

// BridgeConfig is state.bridge_config (§12.6, routing core). The existing
// agent ignores the two bools.
type BridgeConfig struct {
	AccessSubnets    []string `json:"access_subnets"` // []CIDR
	EnableNAT        bool     `json:"enable_nat"`
	EnableForwarding bool     `json:"enable_forwarding"`
	// Relay is level 2 (ours): the bridge Resource's relay configuration
	// (PUT …/bridge/relay); nil when none is configured.
	Relay *BridgeRelay `json:"relay,omitempty"`
}

// BridgeRelay is the relay part of a level-2 bridge_config.
type BridgeRelay struct {
	Enabled    bool `json:"enabled"`
	ListenPort int  `json:"listen_port"` // UDP; default DefaultRelayPort
}

// MarshalJSON renders nil AccessSubnets as [].
func (b BridgeConfig) MarshalJSON() ([]byte, error) {
	type wire BridgeConfig
	w := wire(b)
	w.AccessSubnets = nonNil(w.AccessSubnets)
	return json.Marshal(w)
}

// Validate checks that every subnet is a CIDR.
func (b *BridgeConfig) Validate() error { return validCIDRs("access_subnets", b.AccessSubnets) }

// RelaySession is one relay assignment (§12.6); also the
// relay_session_assigned payload.
type RelaySession struct {
	SessionID     string    `json:"session_id"`
	PeerAID       string    `json:"peer_a_id"`
	PeerAEndpoint string    `json:"peer_a_endpoint"` // ip:port
	PeerBID       string    `json:"peer_b_id"`
	PeerBEndpoint string    `json:"peer_b_endpoint"` // ip:port
	ExpiresAt     time.Time `json:"expires_at"`
	// Level 2 (ours): the tokens each side proves in its binds, so the
	// relay learns the source from an authenticated datagram instead of
	// matching exact addresses (docs/design/0005-mesh.md, "Relay wire").
	PeerAToken string `json:"peer_a_token,omitempty"`
	PeerBToken string `json:"peer_b_token,omitempty"`
}

// Validate checks ids, ip:port endpoints and the Time.
func (r *RelaySession) Validate() error {
	switch {
	case !ValidID(r.SessionID):
		return invalid("session_id", "not an ID")
	case !ValidID(r.PeerAID):
		return invalid("peer_a_id", "not an ID")
	case !ValidIPPort(r.PeerAEndpoint):
		return invalid("peer_a_endpoint", "not ip:port")
	case !ValidID(r.PeerBID):
		return invalid("peer_b_id", "not an ID")
	case !ValidIPPort(r.PeerBEndpoint):
		return invalid("peer_b_endpoint", "not ip:port")
	case r.ExpiresAt.IsZero() || !ValidWireTime(r.ExpiresAt):
		return invalid("expires_at", "not a UTC Time")
	}
	return nil
}

// RelayConfig is state.relay_config.
type RelayConfig struct {
	Sessions []RelaySession `json:"sessions"`
}

// MarshalJSON renders nil Sessions as [].
func (r RelayConfig) MarshalJSON() ([]byte, error) {
	type wire RelayConfig
	w := wire(r)
	w.Sessions = nonNil(w.Sessions)
	return json.Marshal(w)
}

// Validate checks every session.
func (r *RelayConfig) Validate() error {
	for i := range r.Sessions {
		if err := r.Sessions[i].Validate(); err != nil {
			return within(index("sessions", i), err)
		}
	}
	return nil
}

// UserAccessPeer is one user-access WireGuard peer (§12.6); also the
// user_access_peer_assigned payload.
type UserAccessPeer struct {
	PublicKey  string   `json:"public_key"`  // Key32
	AllowedIPs []string `json:"allowed_ips"` // []CIDR
	PSK        string   `json:"psk,omitempty"`
	Label      string   `json:"label"`
}

// MarshalJSON renders nil AllowedIPs as [].
func (p UserAccessPeer) MarshalJSON() ([]byte, error) {
	type wire UserAccessPeer
	w := wire(p)
	w.AllowedIPs = nonNil(w.AllowedIPs)
	return json.Marshal(w)
}

// Validate checks keys and prefixes.
func (p *UserAccessPeer) Validate() error {
	switch {
	case !ValidWireGuardKey(p.PublicKey):
		return invalid("public_key", "not a non-zero Key32")
	case p.PSK != "" && !ValidWireGuardKey(p.PSK):
		return invalid("psk", "not a non-zero Key32")
	}
	return validCIDRs("allowed_ips", p.AllowedIPs)
}

// UserAccessConfig is state.user_access_config. The existing agent ignores
// Enabled, InterfaceName and ListenPort (§12.6).
type UserAccessConfig struct {
	Enabled       bool             `json:"enabled"`
	InterfaceName string           `json:"interface_name"`
	ListenPort    int              `json:"listen_port"`
	Peers         []UserAccessPeer `json:"peers"`
}

// MarshalJSON renders nil Peers as [].
func (c UserAccessConfig) MarshalJSON() ([]byte, error) {
	type wire UserAccessConfig
	w := wire(c)
	w.Peers = nonNil(w.Peers)
	return json.Marshal(w)
}

// Validate checks the interface name, port and peers.
func (c *UserAccessConfig) Validate() error {
	switch {
	case c.InterfaceName != "" && !ValidInterfaceName(c.InterfaceName):
		return invalid("interface_name", "not 1–15 of [A-Za-z0-9_-]")
	case c.ListenPort < 0 || c.ListenPort > 65535:
		return invalid("listen_port", "outside 0–65535")
	}
	for i := range c.Peers {
		if err := c.Peers[i].Validate(); err != nil {
			return within(index("peers", i), err)
		}
	}
	return nil
}

// Ingress modes the control plane may send (§12.6). Any other value means
// raw TCP to the existing agent.
const (
	IngressModeTerminate   = "terminate"
	IngressModePassthrough = "passthrough"
)

// IngressRule is one public ingress rule (§12.6); also the
// ingress_rule_assigned payload. KeyPEM is a private key: never log it.
type IngressRule struct {
	RuleID     string `json:"rule_id"`
	ListenPort int    `json:"listen_port"`
	TargetAddr string `json:"target_addr"` // host:port
	Mode       string `json:"mode"`
	CertPEM    string `json:"cert_pem,omitempty"`
	KeyPEM     string `json:"key_pem,omitempty"`
}

// Validate checks the rule id, port, target and that mode is terminate
// (with both PEMs) or passthrough.
func (r *IngressRule) Validate() error {
	switch {
	case !ValidID(r.RuleID):
		return invalid("rule_id", "not an ID")
	case !ValidPort(r.ListenPort):
		return invalid("listen_port", "outside 1–65535")
	case !ValidHostPort(r.TargetAddr):
		return invalid("target_addr", "not host:port")
	case r.Mode == IngressModeTerminate && (r.CertPEM == "" || r.KeyPEM == ""):
		return invalid("mode", "terminate needs cert_pem and key_pem")
	case r.Mode != IngressModeTerminate && r.Mode != IngressModePassthrough:
		return invalid("mode", `not "terminate" or "passthrough"`)
	}
	return nil
}

// IngressConfig is state.ingress_config.
type IngressConfig struct {
	Enabled bool          `json:"enabled"`
	Rules   []IngressRule `json:"rules"`
}

// MarshalJSON renders nil Rules as [].
func (c IngressConfig) MarshalJSON() ([]byte, error) {
	type wire IngressConfig
	w := wire(c)
	w.Rules = nonNil(w.Rules)
	return json.Marshal(w)
}

// Validate checks every rule.
func (c *IngressConfig) Validate() error {
	for i := range c.Rules {
		if err := c.Rules[i].Validate(); err != nil {
			return within(index("rules", i), err)
		}
	}
	return nil
}

// SiteToSiteTunnel is one site-to-site tunnel (§12.6); also the
// site_to_site_tunnel_assigned payload.
type SiteToSiteTunnel struct {
	TunnelID        string   `json:"tunnel_id"`
	RemoteEndpoint  string   `json:"remote_endpoint"`   // host:port
	RemotePublicKey string   `json:"remote_public_key"` // Key32
	LocalSubnets    []string `json:"local_subnets"`     // []CIDR, unused by the existing agent
	RemoteSubnets   []string `json:"remote_subnets"`    // []CIDR
	PSK             string   `json:"psk,omitempty"`
	InterfaceName   string   `json:"interface_name"`
	ListenPort      int      `json:"listen_port"`
}

// MarshalJSON renders nil subnet lists as [].
func (t SiteToSiteTunnel) MarshalJSON() ([]byte, error) {
	type wire SiteToSiteTunnel
	w := wire(t)
	w.LocalSubnets = nonNil(w.LocalSubnets)
	w.RemoteSubnets = nonNil(w.RemoteSubnets)
	return json.Marshal(w)
}

// Validate checks the tunnel's members.
func (t *SiteToSiteTunnel) Validate() error {
	switch {
	case !ValidID(t.TunnelID):
		return invalid("tunnel_id", "not an ID")
	case !ValidHostPort(t.RemoteEndpoint):
		return invalid("remote_endpoint", "not host:port")
	case !ValidWireGuardKey(t.RemotePublicKey):
		return invalid("remote_public_key", "not a non-zero Key32")
	case t.PSK != "" && !ValidWireGuardKey(t.PSK):
		return invalid("psk", "not a non-zero Key32")
	case !ValidInterfaceName(t.InterfaceName):
		return invalid("interface_name", "not 1–15 of [A-Za-z0-9_-]")
	case t.ListenPort < 0 || t.ListenPort > 65535:
		return invalid("listen_port", "outside 0–65535")
	}
	if err := validCIDRs("local_subnets", t.LocalSubnets); err != nil {
		return err
	}
	return validCIDRs("remote_subnets", t.RemoteSubnets)
}

// SiteToSiteConfig is state.site_to_site_config.
type SiteToSiteConfig struct {
	Enabled bool               `json:"enabled"`
	Tunnels []SiteToSiteTunnel `json:"tunnels"`
}

// MarshalJSON renders nil Tunnels as [].
func (c SiteToSiteConfig) MarshalJSON() ([]byte, error) {
	type wire SiteToSiteConfig
	w := wire(c)
	w.Tunnels = nonNil(w.Tunnels)
	return json.Marshal(w)
}

// Validate checks every tunnel and that interface names are unique.
func (c *SiteToSiteConfig) Validate() error {
	names := make(map[string]bool, len(c.Tunnels))
	for i := range c.Tunnels {
		if err := c.Tunnels[i].Validate(); err != nil {
			return within(index("tunnels", i), err)
		}
		if names[c.Tunnels[i].InterfaceName] {
			return invalid(index("tunnels", i)+".interface_name", "not unique on the node")
		}
		names[c.Tunnels[i].InterfaceName] = true
	}
	return nil
}

// BridgeInfo is the heartbeat's bridge status (§12.6).
type BridgeInfo struct {
	Enabled                 bool   `json:"enabled"`
	AccessInterface         string `json:"access_interface"`
	ActiveRoutes            int    `json:"active_routes"`
	RelayEnabled            bool   `json:"relay_enabled"`
	ActiveRelaySessions     int    `json:"active_relay_sessions"`
	IngressEnabled          bool   `json:"ingress_enabled"`
	ActiveIngressRules      int    `json:"active_ingress_rules"`
	SiteToSiteEnabled       bool   `json:"site_to_site_enabled"`
	ActiveSiteToSiteTunnels int    `json:"active_site_to_site_tunnels"`
}

// UserAccessInfo is the heartbeat's user_access status (§12.6).
type UserAccessInfo struct {
	Enabled       bool   `json:"enabled"`
	InterfaceName string `json:"interface_name"`
	PeerCount     int    `json:"peer_count"`
	ListenPort    int    `json:"listen_port"`
}

// IngressInfo is the heartbeat's ingress status (§12.6).
type IngressInfo struct {
	Enabled         bool `json:"enabled"`
	RuleCount       int  `json:"rule_count"`
	ConnectionCount int  `json:"connection_count"`
}

// SiteToSiteInfo is the heartbeat's site_to_site status (§12.6).
type SiteToSiteInfo struct {
	Enabled     bool `json:"enabled"`
	TunnelCount int  `json:"tunnel_count"`
}

func validCIDRs(field string, cidrs []string) error {
	for i, c := range cidrs {
		if !ValidCIDR(c) {
			return invalid(index(field, i), "not a CIDR")
		}
	}
	return nil
}
