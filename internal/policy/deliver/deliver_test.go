package deliver

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/events/eventstest"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/store/storetest"
)

const webToDB = `[{"action":"allow","protocol":"tcp","source_cidr":"0.0.0.0/0","destination_cidr":"0.0.0.0/0","ports":{"from":5432,"to":5432}}]`

// scenario: web1, web2 → db1 tcp/5432; batch1 is in no policy.
func scenario(t *testing.T, b storetest.Backend, mode string) *fixture {
	f := newFixture(t, b, mode)
	f.join(t, "db1", "100.64.0.1", "db", 2)
	f.join(t, "web1", "100.64.0.2", "web", 2)
	f.join(t, "web2", "100.64.0.3", "web", 1)
	f.join(t, "batch1", "100.64.0.4", "batch", 2)
	f.putPolicy(t, "pol1", "rev1", "role=web", "role=db", webToDB)
	return f
}

func eventTypes(evs []eventstest.Sent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestStateCarriesCompiledPolicy(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "deny")
			db := f.state(t, "db1", 2)
			if db.Policy == nil || len(db.Policy.Rules) != 1 {
				t.Fatalf("db1 policy block: %+v", db.Policy)
			}
			r := db.Policy.Rules[0]
			if r.SourceCIDR != "100.64.0.2/31" || r.DestinationCIDR != "100.64.0.1/32" || r.Protocol != "tcp" {
				t.Fatalf("db1 rule: %+v", r)
			}
			if got := peerIDs(db); !slices.Equal(got, []string{"web1", "web2"}) {
				t.Fatalf("db1 peers %v, want web1 web2", got)
			}
			if len(db.Policies) != 1 || len(db.Policies[0].Rules) != 2 {
				t.Fatalf("db1 level-1 policies: %+v", db.Policies)
			}
			// batch1: covered by nothing, deny default: no rules, no peers.
			batch := f.state(t, "batch1", 1)
			if batch.Policy == nil || len(batch.Policy.Rules) != 0 || len(batch.Peers) != 0 || len(batch.Policies) != 0 {
				t.Fatalf("batch1: policy %+v peers %v policies %v", batch.Policy, peerIDs(batch), batch.Policies)
			}
			// web1 sees db1 (it may send to it), not web2 or batch1.
			if got := peerIDs(f.state(t, "web1", 2)); !slices.Equal(got, []string{"db1"}) {
				t.Fatalf("web1 peers %v, want db1", got)
			}
		})
	}
}

func TestAllowModeRendersAllowAll(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := newFixture(t, b, "allow")
			f.join(t, "a", "100.64.0.1", "x", 1)
			f.join(t, "b", "100.64.0.2", "y", 1)
			doc := f.state(t, "a", 1)
			if len(doc.Policies) != 1 || len(doc.Policies[0].Rules) != 1 || doc.Policies[0].Rules[0].Src != "*" ||
				doc.Policies[0].Rules[0].Dst != "*" {
				t.Fatalf("allow-all level-1 policy: %+v", doc.Policies)
			}
			if got := peerIDs(doc); !slices.Equal(got, []string{"b"}) {
				t.Fatalf("peers %v", got)
			}
			// b joined after a: a was told of b by the mesh's announcement.
			if evs := f.sent.Take()["a"]; !slices.Contains(eventTypes(evs), nodeproto.EventPeerAdded) {
				t.Fatalf("a got %v, want peer_added", eventTypes(evs))
			}
		})
	}
}

func TestRelabelTellsOnlyAffectedNodes(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "deny")
			before := f.state(t, "db1", 2).Policy.Fingerprint
			l1 := f.state(t, "db1", 1).Policies[0].ID
			f.sent.Take()
			f.relabel(t, "batch1", "web") // batch1 becomes a source of pol1
			got := f.sent.Take()
			// db1 (its inbound sources changed) and batch1 (its peers and
			// level-1 rules changed) are told; web1 and web2 are not.
			if _, ok := got["web1"]; ok {
				t.Fatalf("web1 told: %v", eventTypes(got["web1"]))
			}
			if _, ok := got["web2"]; ok {
				t.Fatalf("web2 told: %v", eventTypes(got["web2"]))
			}
			var upd nodeproto.NodeStatePolicy
			found := false
			for _, e := range got["db1"] {
				if e.Type == nodeproto.EventPolicyUpdated {
					found = true
					if err := json.Unmarshal(e.Payload, &upd); err != nil {
						t.Fatal(err)
					}
				}
			}
			after := f.state(t, "db1", 2).Policy
			if !found || upd.Fingerprint != after.Fingerprint || upd.Fingerprint == before {
				t.Fatalf("db1 policy_updated %v fingerprint %q (state %q, before %q)", found, upd.Fingerprint, after.Fingerprint, before)
			}
			if !slices.Contains(eventTypes(got["db1"]), nodeproto.EventPeerAdded) {
				t.Fatalf("db1 not told of its new peer: %v", eventTypes(got["db1"]))
			}
			if !slices.Contains(eventTypes(got["batch1"]), nodeproto.EventPeerAdded) {
				t.Fatalf("batch1 not told of db1: %v", eventTypes(got["batch1"]))
			}
			// batch1 (level 2) receives nothing, its own ruleset is unchanged:
			// the peer event is all it needs.
			if slices.Contains(eventTypes(got["batch1"]), nodeproto.EventPolicyUpdated) {
				t.Fatalf("batch1 got policy_updated for an unchanged fingerprint: %v", eventTypes(got["batch1"]))
			}
			if l1 == f.state(t, "db1", 1).Policies[0].ID {
				t.Fatal("db1's level-1 policy kept its id although its rules changed (S1)")
			}
			// Relabel back: db1 loses the peer.
			f.relabel(t, "batch1", "batch")
			got = f.sent.Take()
			if !slices.Contains(eventTypes(got["db1"]), nodeproto.EventPeerRemoved) {
				t.Fatalf("db1 not told batch1 is gone: %v", eventTypes(got["db1"]))
			}
			if f.state(t, "db1", 2).Policy.Fingerprint != before {
				t.Fatal("relabelling back did not restore db1's fingerprint")
			}
		})
	}
}

func TestDeleteReturnsToDefault(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "allow")
			if rules := f.state(t, "db1", 2).Policy.Rules; len(rules) != 1 || rules[0].Protocol != "tcp" {
				t.Fatalf("db1 covered: %+v", rules)
			}
			f.sent.Take()
			f.deletePolicy(t, "pol1")
			got := f.sent.Take()
			doc := f.state(t, "db1", 2)
			if len(doc.Policy.Rules) != 1 || doc.Policy.Rules[0].Protocol != "any" || doc.Policy.Rules[0].SourceCIDR != "0.0.0.0/0" {
				t.Fatalf("db1 after delete: %+v", doc.Policy.Rules)
			}
			if got := peerIDs(doc); !slices.Equal(got, []string{"batch1", "web1", "web2"}) {
				t.Fatalf("db1 peers after delete %v", got)
			}
			if !slices.Contains(eventTypes(got["db1"]), nodeproto.EventPolicyUpdated) {
				t.Fatalf("db1 not told: %v", eventTypes(got["db1"]))
			}
			// In allow mode batch1 (uncovered) saw everyone already.
			if slices.Contains(eventTypes(got["batch1"]), nodeproto.EventPeerAdded) {
				t.Fatalf("batch1 told of a peer it had: %v", eventTypes(got["batch1"]))
			}
			l1 := f.state(t, "web2", 1).Policies
			if len(l1) != 1 || l1[0].Rules[0].Src != "*" || l1[0].Rules[0].Dst != "*" {
				t.Fatalf("web2 level-1 after delete: %+v", l1)
			}
		})
	}
}

func TestCacheMissRebuilds(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "deny")
			want := f.state(t, "db1", 2).Policy.Fingerprint
			f.svc.Forget() // as after a restart
			f.sent.Take()
			f.relabel(t, "batch1", "web")
			got := f.sent.Take()
			if !slices.Contains(eventTypes(got["db1"]), nodeproto.EventPolicyUpdated) {
				t.Fatalf("db1 not told after a rebuild: %v", eventTypes(got["db1"]))
			}
			if _, ok := got["web1"]; ok {
				t.Fatalf("web1 told although nothing changed for it: %v", eventTypes(got["web1"]))
			}
			if f.state(t, "db1", 2).Policy.Fingerprint == want {
				t.Fatal("fingerprint unchanged after the relabel")
			}
		})
	}
}

func TestLeaveRecompiles(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			f := scenario(t, b, "deny")
			f.sent.Take()
			f.inTx(t, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `UPDATE nodes SET revoked_at = 1 WHERE id = 'web1'`); err != nil {
					return err
				}
				if err := f.mesh.Announce(ctx, tx, "web1", nodeproto.EventPeerRemoved); err != nil {
					return err
				}
				return f.svc.NodeLeft(ctx, tx, testDomain, "web1")
			})
			got := f.sent.Take()
			rules := f.state(t, "db1", 2).Policy.Rules
			if len(rules) != 1 || rules[0].SourceCIDR != "100.64.0.3/32" {
				t.Fatalf("db1 after web1 left: %+v", rules)
			}
			var upd nodeproto.NodeStatePolicy
			n := 0
			for _, e := range got["db1"] {
				if e.Type == nodeproto.EventPolicyUpdated {
					n++
					json.Unmarshal(e.Payload, &upd)
				}
			}
			if n != 1 || len(upd.Rules) != 1 {
				t.Fatalf("db1 (level 2) got %d policy_updated, payload %+v", n, upd)
			}
			// web2 (level 1) is a source of db1 still: its policy view did
			// not change (the mesh told it web1 left).
			if slices.Contains(eventTypes(got["web2"]), nodeproto.EventPolicyUpdated) {
				t.Fatalf("web2 told %v", eventTypes(got["web2"]))
			}
			// Relabel db1 away: web2 (level 1) loses its peer and gets {}.
			f.relabel(t, "db1", "batch")
			got = f.sent.Take()
			var level1 []string
			for _, e := range got["web2"] {
				level1 = append(level1, e.Type+" "+string(e.Payload))
			}
			if !slices.Contains(level1, nodeproto.EventPolicyUpdated+" {}") {
				t.Fatalf("web2 (level 1) got %v, want policy_updated {}", level1)
			}
			if doc := f.state(t, "web2", 1); len(doc.Policies) != 0 || len(doc.Peers) != 0 {
				t.Fatalf("web2 still has policies %v peers %v", doc.Policies, peerIDs(doc))
			}
		})
	}
}
