// Package logkey names the attribute keys of plexd's structured logs, so
// every package logs the same thing under the same snake_case key and a
// log pipeline can rely on them (STYLE: keys from shared constants). Values
// logged under these keys are never secrets: no NSK, token, private key or
// secret value has a key here.
package logkey

// Attribute keys.
const (
	Addr                = "addr"
	Backend             = "backend"
	ConsecutiveFailures = "consecutive_failures"
	Corrections         = "corrections"
	Current             = "current"
	Detail              = "detail"
	Endpoint            = "endpoint"
	Error               = "error"
	EventID             = "event_id"
	EventType           = "event_type"
	Identity            = "identity"
	IdleTimeout         = "idle_timeout"
	Interface           = "interface"
	KID                 = "kid"
	Kind                = "kind"
	LastEventID         = "last_event_id"
	MeshIP              = "mesh_ip"
	NATType             = "nat_type"
	Mode                = "mode"
	NodeID              = "node_id"
	Panic               = "panic"
	PeerID              = "peer_id"
	Peers               = "peers"
	PublicKey           = "public_key"
	Reason              = "reason"
	RetryIn             = "retry_in"
	SecretKey           = "secret_key"
	Server              = "server"
	Socket              = "socket"
	Source              = "source"
	SSEID               = "sse_id"
	// Telemetry (internal/plexd/telemetry).
	Collector  = "collector"
	HTTPStatus = "http_status"
	Path       = "path"
	Records    = "records"
)
