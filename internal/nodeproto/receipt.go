package nodeproto

import (
	"encoding/json"
	"time"
)

// CapabilitiesResponse answers PUT /v1/nodes/{node_id}/capabilities in the
// contract's form (CapabilityManifestResponse); level-1 agents ignore the
// body (R1). FieldsChanged lists, sorted, the manifest fields that differ
// from the stored manifest; it is [] when none does.
type CapabilitiesResponse struct {
	AcceptedAt     time.Time `json:"accepted_at"`
	FieldsChanged  []string  `json:"fields_changed" enum:"binary_version,binary_checksum,ssh_host_key_fingerprint,declared_hooks,plexd_hooks"`
	HostKeyChanged bool      `json:"host_key_changed"`
}

// MarshalJSON renders nil FieldsChanged as [].
func (r CapabilitiesResponse) MarshalJSON() ([]byte, error) {
	type wire CapabilitiesResponse
	w := wire(r)
	w.FieldsChanged = nonNil(w.FieldsChanged)
	return json.Marshal(w)
}

// IngestReceipt answers a telemetry batch (metrics, logs, audit) in the
// contract's form: when it was accepted and how many records it held.
// Level-1 agents ignore the body (R1).
type IngestReceipt struct {
	AcceptedAt time.Time `json:"accepted_at"`
	Records    int       `json:"records"`
}
