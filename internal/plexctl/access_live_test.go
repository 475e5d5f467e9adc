package plexctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// liveHarness is a harness whose server is a real control plane on b,
// reached with its first-start admin token.
func liveHarness(t *testing.T, b apptest.Backend) *harness {
	t.Helper()
	env := apptest.Start(t, b)
	h := newHarness(t)
	h.env[envServer] = env.URL
	h.env[envToken] = env.Token
	return h
}

// jsonInto runs args with -o json and decodes stdout into out.
func (h *harness) jsonInto(out any, args ...string) {
	h.t.Helper()
	r := h.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		h.t.Fatalf("plexctl %s: stdout is not the expected JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// Issue 8 (plexctl parity): IdP bindings, service identities, relation
// tuples and authz check / lookup-resources / expand driven end to end by
// plexctl against the real control plane, on both databases.
func TestAccessCommandsAgainstControlPlane(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			h := liveHarness(t, b)
			var dom apiv1.Domain
			h.jsonInto(&dom, "domains", "create", "--name", "Acme", "--slug", "acme", "--mesh-cidr", "100.64.0.0/16")
			var proj apiv1.Project
			h.jsonInto(&proj, "projects", "create", "--domain", dom.ID, "--name", "Web", "--slug", "web")

			// IdP binding, with the client secret from stdin.
			r := h.runIn(strings.NewReader("live-s3cret\n"), "idp-bindings", "create", "--domain", dom.ID,
				"--issuer", "https://idp.example.com", "--client-id", "plexsphere", "--client-secret-file", "-",
				"--jit-policy", "allow", "--alias", "corp", "--claim", "groups=roles", "-o", "json")
			if r.code != ExitOK {
				t.Fatalf("idp create: exit %d: %s", r.code, r.stderr)
			}
			if strings.Contains(r.stdout, "live-s3cret") {
				t.Fatalf("secret echoed: %s", r.stdout)
			}
			var bind apiv1.IdPBinding
			if err := json.Unmarshal([]byte(r.stdout), &bind); err != nil || bind.ClientSecretRef != "keyring:idp/"+bind.ID {
				t.Fatalf("idp create: %v %s", err, r.stdout)
			}
			var binds apiv1.List[apiv1.IdPBinding]
			h.jsonInto(&binds, "idp-bindings", "list", "--domain", dom.ID)
			if len(binds.Items) != 1 || binds.Items[0].ID != bind.ID || binds.Items[0].ClaimMappings["groups"] != "roles" {
				t.Fatalf("idp list: %+v", binds)
			}
			if r = h.ok("idp-bindings", "get", bind.ID); !strings.Contains(r.stdout, "https://idp.example.com") {
				t.Errorf("idp get: %s", r.stdout)
			}

			// Service identity: create, list, get, disable, enable.
			var sid apiv1.ServiceIdentity
			h.jsonInto(&sid, "service-identities", "create", "--domain", dom.ID, "--name", "ci",
				"--idp-binding", bind.ID, "--client-id", "ci-client")
			var sids apiv1.List[apiv1.ServiceIdentity]
			h.jsonInto(&sids, "service-identities", "list", "--domain", dom.ID)
			if len(sids.Items) != 1 || sids.Items[0].ID != sid.ID {
				t.Fatalf("sid list: %+v", sids)
			}
			var got apiv1.ServiceIdentity
			h.jsonInto(&got, "service-identities", "update", sid.ID, "--domain", dom.ID, "--disable", "--name", "ci-2")
			if got.DisabledAt == nil || got.DisplayName != "ci-2" {
				t.Fatalf("sid disable: %+v", got)
			}
			h.jsonInto(new(apiv1.ServiceIdentity), "service-identities", "update", sid.ID, "--domain", dom.ID, "--enable")
			got = apiv1.ServiceIdentity{}
			h.jsonInto(&got, "service-identities", "get", sid.ID, "--domain", dom.ID)
			if got.DisabledAt != nil || got.FederationKind != "client_credentials" {
				t.Fatalf("sid get: %+v", got)
			}

			// A tuple grants it viewer; check, lookup and expand see it.
			subject := "service_identity:" + sid.ID
			resource := "project:" + proj.ID
			var tuple apiv1.RelationTuple
			h.jsonInto(&tuple, "tuples", "write", "--project", proj.ID, "--resource", resource,
				"--relation", "viewer", "--subject", subject)
			if r = h.ok("tuples", "list", "--project", proj.ID); !strings.Contains(r.stdout, tuple.ID) {
				t.Fatalf("tuples list: %s", r.stdout)
			}
			check := func(relation, want string) {
				t.Helper()
				var d apiv1.AuthzDecision
				h.jsonInto(&d, "authz", "check", "--subject", subject, "--relation", relation, "--resource", resource)
				if d.Decision != want {
					t.Errorf("check %s: %+v, want %s", relation, d, want)
				}
			}
			check("read", "allowed")
			check("manage", "denied")
			var found apiv1.AuthzResources
			h.jsonInto(&found, "authz", "lookup-resources", "--subject", subject, "--relation", "read", "--type", "project")
			if len(found.Items) != 1 || !strings.Contains(found.Items[0], proj.ID) {
				t.Errorf("lookup: %+v", found)
			}
			if r = h.ok("authz", "expand", "--relation", "read", "--resource", resource); !strings.Contains(r.stdout, subject) {
				t.Errorf("expand does not show %s:\n%s", subject, r.stdout)
			}

			// Tear down; every delete takes effect.
			h.ok("tuples", "delete", tuple.ID)
			check("read", "denied")
			h.ok("service-identities", "delete", sid.ID, "--domain", dom.ID)
			if r = h.run("service-identities", "get", sid.ID, "--domain", dom.ID); r.code != ExitError {
				t.Errorf("get deleted sid: exit %d", r.code)
			}
			h.ok("idp-bindings", "delete", bind.ID)
			if r = h.run("idp-bindings", "get", bind.ID); r.code != ExitError || !strings.Contains(r.stderr, "binding-not-found") {
				t.Errorf("get deleted binding: exit %d %s", r.code, r.stderr)
			}
		})
	}
}
