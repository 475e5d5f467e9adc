package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// Desired is the node's desired state as plexd knows it: the last state
// snapshot with every verified event since applied on top.
type Desired struct {
	Peers      map[string]nodeproto.Peer
	Policies   []nodeproto.Policy
	Metadata   map[string]string
	Data       []nodeproto.DataEntry
	SecretRefs []nodeproto.SecretRef
	// The uncompared sections of level 1 (§9.2) are compared by content here.
	BridgeConfig     *nodeproto.BridgeConfig
	RelayConfig      *nodeproto.RelayConfig
	UserAccessConfig *nodeproto.UserAccessConfig
	IngressConfig    *nodeproto.IngressConfig
	SiteToSiteConfig *nodeproto.SiteToSiteConfig

	// Policy is the node's compiled ruleset from state or policy_updated
	// (level 2); nil: not under policy control. Never modified in place.
	Policy *nodeproto.NodeStatePolicy `json:",omitempty"`
	// Mesh is state.mesh (level 2): the Domain's prefixes and the STUN
	// servers; nil at level 1.
	Mesh *nodeproto.MeshSelf `json:",omitempty"`
}

func emptyDesired() Desired {
	return Desired{Peers: map[string]nodeproto.Peer{}, Metadata: map[string]string{}}
}

// fromState builds a Desired from a state snapshot, dropping invalid
// elements (a bad peer must not cost the node every other peer).
func fromState(st *nodeproto.StateResponse, drop func(what string, err error)) Desired {
	d := emptyDesired()
	for _, p := range st.Peers {
		if err := p.Validate(); err != nil {
			drop("peer", err)
			continue
		}
		d.Peers[p.ID] = p
	}
	d.Policies = slices.Clone(st.Policies)
	maps.Copy(d.Metadata, st.Metadata)
	for _, e := range st.Data {
		if err := e.Validate(); err != nil {
			drop("data entry", err)
			continue
		}
		d.Data = append(d.Data, e)
	}
	for _, r := range st.SecretRefs {
		if err := r.Validate(); err != nil {
			drop("secret ref", err)
			continue
		}
		d.SecretRefs = append(d.SecretRefs, r)
	}
	d.BridgeConfig, d.RelayConfig, d.UserAccessConfig = st.BridgeConfig, st.RelayConfig, st.UserAccessConfig
	d.IngressConfig, d.SiteToSiteConfig = st.IngressConfig, st.SiteToSiteConfig
	if st.Mesh != nil {
		m := *st.Mesh
		m.STUNServers = slices.Clone(m.STUNServers)
		d.Mesh = &m
	}
	return d
}

func (d Desired) clone() Desired {
	c := d
	c.Peers = maps.Clone(d.Peers)
	c.Metadata = maps.Clone(d.Metadata)
	c.Policies = slices.Clone(d.Policies)
	c.Data = slices.Clone(d.Data)
	c.SecretRefs = slices.Clone(d.SecretRefs)
	return c
}

// meshConfig renders the mesh part of d. Our plexd configures every peer
// the control plane sends; policies go to the firewall (the level-1 tie of
// peer visibility to policy is a gap we do not inherit, §12.3).
func (d Desired) meshConfig(base mesh.Config) mesh.Config {
	base.Peers = mesh.PeersFromMap(d.Peers)
	if d.Mesh != nil {
		base.MeshCIDR = d.Mesh.MeshCIDR
		base.AddressV6, base.MeshIPv6CIDR = d.Mesh.MeshIPv6, d.Mesh.MeshIPv6CIDR
	}
	return base
}

// corrections lists what changed from old to d, by content in every
// section (§9.4 level 2), with the level-1 correction types.
func (d Desired) corrections(old Desired) []nodeproto.DriftCorrection {
	var out []nodeproto.DriftCorrection
	add := func(typ, detail string) { out = append(out, nodeproto.DriftCorrection{Type: typ, Detail: detail}) }
	for _, id := range slices.Sorted(maps.Keys(d.Peers)) {
		p, ok := old.Peers[id]
		switch {
		case !ok:
			add(nodeproto.DriftPeerAdded, "peer "+id)
		case !mesh.PeerEqual(p, d.Peers[id]):
			add(nodeproto.DriftPeerUpdated, "peer "+id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(old.Peers)) {
		if _, ok := d.Peers[id]; !ok {
			add(nodeproto.DriftPeerRemoved, "peer "+id)
		}
	}
	oldPol, newPol := policyIndex(old.Policies), policyIndex(d.Policies)
	for _, id := range slices.Sorted(maps.Keys(newPol)) {
		if o, ok := oldPol[id]; !ok || o != newPol[id] {
			if ok {
				add(nodeproto.DriftPolicyRemoved, "policy "+id)
			}
			add(nodeproto.DriftPolicyAdded, "policy "+id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(oldPol)) {
		if _, ok := newPol[id]; !ok {
			add(nodeproto.DriftPolicyRemoved, "policy "+id)
		}
	}
	if !maps.Equal(d.Metadata, old.Metadata) {
		add(nodeproto.DriftMetadataUpdated, "metadata updated")
	}
	if !dataEqual(d.Data, old.Data) {
		add(nodeproto.DriftDataUpdated, "data updated")
	}
	if !slices.Equal(sortedRefs(d.SecretRefs), sortedRefs(old.SecretRefs)) {
		add(nodeproto.DriftSecretRefsUpdated, "secret refs updated")
	}
	return out
}

func policyIndex(ps []nodeproto.Policy) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.ID] = fmt.Sprint(p.Rules)
	}
	return m
}

func dataEqual(a, b []nodeproto.DataEntry) bool {
	if len(a) != len(b) {
		return false
	}
	idx := make(map[string]nodeproto.DataEntry, len(b))
	for _, e := range b {
		idx[e.Key] = e
	}
	for _, e := range a {
		o, ok := idx[e.Key]
		if !ok || o.Version != e.Version || o.ContentType != e.ContentType || !jsonEqual(o.Payload, e.Payload) {
			return false
		}
	}
	return true
}

// jsonEqual compares two JSON values byte for byte after compaction, so
// a payload that went through the applied-state file equals its source.
func jsonEqual(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func sortedRefs(r []nodeproto.SecretRef) []nodeproto.SecretRef {
	out := slices.Clone(r)
	slices.SortFunc(out, func(a, b nodeproto.SecretRef) int {
		if a.Key != b.Key {
			if a.Key < b.Key {
				return -1
			}
			return 1
		}
		return int(a.Version - b.Version)
	})
	return out
}
