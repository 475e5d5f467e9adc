package oidc

import (
	"context"
	"database/sql"
	"testing"
)

// fakeInvitations records the redemptions offered and redeems every one.
type fakeInvitations struct{ offered []Redemption }

func (f *fakeInvitations) Redeem(_ context.Context, _ *sql.Tx, r Redemption) (bool, error) {
	f.offered = append(f.offered, r)
	return true, nil
}

// TestAdmitOffersOnlyVerifiedDomainAddresses: a first sign-in is offered
// to the invitations only with a verified, non-empty address and a Domain;
// a redemption admits it under jit_policy deny, anything else is refused.
func TestAdmitOffersOnlyVerifiedDomainAddresses(t *testing.T) {
	deny := &Binding{JITPolicy: "deny"}
	cases := []struct {
		name     string
		domain   string
		c        claims
		offered  bool
		admitted bool
	}{
		{"verified", "d", claims{email: "a@x.test", emailVerified: true}, true, true},
		{"unverified", "d", claims{email: "a@x.test"}, false, false},
		{"no address", "d", claims{email: " ", emailVerified: true}, false, false},
		{"platform sign-in", "", claims{email: "a@x.test", emailVerified: true}, false, false},
	}
	for _, tc := range cases {
		f := &fakeInvitations{}
		s := &Service{invitations: f}
		err := s.admit(context.Background(), nil, deny, tc.domain, "u", &tc.c)
		if got := len(f.offered) == 1; got != tc.offered {
			t.Errorf("%s: offered %v, want %v", tc.name, got, tc.offered)
		}
		if (err == nil) != tc.admitted {
			t.Errorf("%s: admit error %v, want admitted=%v", tc.name, err, tc.admitted)
		}
	}
	if err := (&Service{}).admit(context.Background(), nil, &Binding{JITPolicy: "allow"}, "d", "u", &claims{}); err != nil {
		t.Errorf("jit allow without invitations: %v", err)
	}
}

// TestVerifiedClaim reads email_verified as a boolean or the string
// "true", anything else as unverified.
func TestVerifiedClaim(t *testing.T) {
	for v, want := range map[any]bool{true: true, false: false, "true": true, "TRUE": true, "yes": false, 1.0: false} {
		if got := verified(v); got != want {
			t.Errorf("verified(%v) = %v, want %v", v, got, want)
		}
	}
	if verified(nil) {
		t.Error("verified(nil) = true")
	}
}
