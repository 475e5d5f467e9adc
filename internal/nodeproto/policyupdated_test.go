package nodeproto

import (
	"encoding/json"
	"testing"
)

func TestPolicyUpdatedForms(t *testing.T) {
	raw, _ := json.Marshal(PolicyUpdated{})
	if string(raw) != "{}" {
		t.Fatalf("level 1: %s", raw)
	}
	p := &NodeStatePolicy{RevisionID: "r", Fingerprint: "f", Rules: []CompiledRule{{Action: ActionAllow,
		Protocol: ProtocolTCP, SourceCIDR: "10.0.0.0/8", DestinationCIDR: "10.0.0.1/32", Ports: &PortRange{From: 1, To: 2}}}}
	raw, _ = json.Marshal(PolicyUpdated{Policy: p})
	var back PolicyUpdated
	if err := json.Unmarshal(raw, &back); err != nil || back.Policy == nil || back.Policy.Fingerprint != "f" ||
		len(back.Policy.Rules) != 1 || back.Policy.Rules[0].Ports.To != 2 {
		t.Fatalf("level 2 round trip: %s → %+v, %v", raw, back.Policy, err)
	}
	if err := json.Unmarshal([]byte(`{}`), &back); err != nil || back.Policy != nil {
		t.Fatalf("{} must clear the policy: %+v %v", back.Policy, err)
	}
	if err := json.Unmarshal([]byte(`[]`), &back); err == nil {
		t.Fatal("an array decoded as policy_updated")
	}
}

// FuzzPolicyUpdated: any input either fails to decode or decodes to a
// payload that encodes and decodes to the same thing; never a panic.
func FuzzPolicyUpdated(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"revision_id":"r","fingerprint":"f","rules":[{"action":"allow","protocol":"tcp","source_cidr":"10.0.0.0/8","destination_cidr":"10.0.0.1/32","ports":{"from":1,"to":2}}]}`))
	f.Add([]byte(`{"rules":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var u PolicyUpdated
		if json.Unmarshal(b, &u) != nil {
			return
		}
		if u.Policy != nil {
			_ = u.Policy.Validate()
		}
		raw, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again PolicyUpdated
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		raw2, _ := json.Marshal(again)
		if string(raw) != string(raw2) && u.Policy != nil {
			t.Fatalf("not stable: %s vs %s", raw, raw2)
		}
	})
}
