package oidc_test

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/devidp"
	"github.com/plexsphere/plexsphere/internal/oidc/oidctest"
)

// Issue 7 row 8: identities were global by (issuer, subject), so the
// first Domain a subject signed into owned it: a Domain admin who binds
// another Domain's issuer (with a discovery_url of their choosing, so any
// subject they like) squats that Domain's users, who are then refused
// with identity_domain_mismatch. Identities are now keyed per binding
// scope: a sign-in through one Domain's binding never resolves to an
// identity created through another Domain's, or the platform's, binding.
func TestIdentitiesArePerBindingScope(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			f := oidctest.Start(t, b, true)
			idp := f.Issuer(t, nil)
			attacker := f.Domain(t, "attacker", "100.64.0.0/16")
			victim := f.Domain(t, "victim", "100.65.0.0/16")

			// The attacker's Domain binds the victim's issuer first and signs
			// "alice" in through it.
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: attacker})
			squat := f.Browser(t)
			squat.SignIn(t, apiv1.SignIn{DomainID: attacker}, "alice", devidp.ACRBasic)
			_, squatted := squat.Whoami(t)
			if squatted.DomainID != attacker {
				t.Fatalf("attacker sign-in: %+v", squatted)
			}

			// The real alice signs in to her own Domain and gets her own
			// identity there.
			f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: victim})
			real := f.Browser(t)
			real.SignIn(t, apiv1.SignIn{DomainID: victim}, "alice", devidp.ACRBasic)
			st, mine := real.Whoami(t)
			if st != 200 || mine.DomainID != victim || mine.Subject == squatted.Subject {
				t.Fatalf("victim sign-in: %d %+v (attacker's identity %s)", st, mine, squatted.Subject)
			}
			// And the attacker's binding keeps resolving the attacker's
			// identity, never the victim's.
			again := f.Browser(t)
			again.SignIn(t, apiv1.SignIn{DomainID: attacker}, "alice", devidp.ACRBasic)
			if _, who := again.Whoami(t); who.Subject != squatted.Subject || who.DomainID != attacker {
				t.Fatalf("attacker sign-in again: %+v", who)
			}
			real2 := f.Browser(t)
			real2.SignIn(t, apiv1.SignIn{DomainID: victim}, "alice", devidp.ACRBasic)
			if _, who := real2.Whoami(t); who.Subject != mine.Subject {
				t.Fatalf("victim's second sign-in is another identity: %+v vs %s", who, mine.Subject)
			}

			// A platform identity (signed in through a platform binding,
			// without a Domain) is out of any Domain binding's reach, even
			// one of the same issuer.
			platformIdP := f.Issuer(t, nil)
			f.Bind(t, platformIdP, apiv1.CreateIdPBinding{})
			plat := f.Browser(t)
			plat.SignIn(t, apiv1.SignIn{}, "bob", devidp.ACRBasic)
			_, platWho := plat.Whoami(t)
			if platWho.DomainID != "" {
				t.Fatalf("platform sign-in: %+v", platWho)
			}
			f.Bind(t, platformIdP, apiv1.CreateIdPBinding{DomainID: attacker, Alias: "plat"})
			reach := f.Browser(t)
			reach.SignIn(t, apiv1.SignIn{DomainID: attacker, IdPBindingAlias: "plat"}, "bob", devidp.ACRBasic)
			if _, who := reach.Whoami(t); who.Subject == platWho.Subject || who.DomainID != attacker {
				t.Fatalf("Domain binding reached the platform identity: %+v vs %+v", who, platWho)
			}

			// A binding's discovery document must name its issuer: one of
			// the victim's issuer whose discovery_url serves another
			// issuer's document (keys the binder controls) is not used.
			third := f.Domain(t, "third", "100.66.0.0/16")
			forged := f.Bind(t, idp, apiv1.CreateIdPBinding{DomainID: third,
				DiscoveryURL: platformIdP.Issuer() + "/.well-known/openid-configuration"})
			resp, raw := f.Browser(t).Do(t, "POST", "/v1/auth/sign-in", apiv1.SignIn{IdPBindingID: forged.ID}, false, nil)
			if resp.StatusCode != 502 || oidctest.ProblemCode(t, raw) != "idp_unreachable" {
				t.Fatalf("sign-in through a discovery document of another issuer: %d %s", resp.StatusCode, raw)
			}
		})
	}
}
