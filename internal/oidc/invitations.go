package oidc

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
)

// Redemption is what a first sign-in offers the invitations of its Domain:
// the new identity and the e-mail address its ID token carries. Only a
// verified address (email_verified true) may redeem an invitation.
type Redemption struct {
	DomainID      string
	IdentityID    string
	Email         string
	EmailVerified bool
}

// Invitations redeems a Domain's pending invitation at a user's first
// sign-in, inside the sign-in's transaction: it writes the invitation's
// tuples and audit entry in tx and reports whether one was redeemed. A
// redeeming sign-in is admitted even when the binding's jit_policy is deny.
type Invitations interface {
	Redeem(ctx context.Context, tx *sql.Tx, r Redemption) (bool, error)
}

// admit decides a first sign-in, after its identity was inserted in tx:
// an invitation for its verified address (redeemed here, its tuples and
// audit entry written after the group sync's tuples, keeping the tuple
// store's lock order) admits it whatever the binding's jit_policy; else
// jit_policy deny refuses it, and the transaction rolls the insert back.
// Platform sign-ins (no Domain) and unverified addresses redeem nothing.
func (s *Service) admit(ctx context.Context, tx *sql.Tx, b *Binding, domainID, identityID string, c *claims) error {
	redeemed := false
	if s.invitations != nil && domainID != "" && c.emailVerified && strings.TrimSpace(c.email) != "" {
		var err error
		redeemed, err = s.invitations.Redeem(ctx, tx, Redemption{DomainID: domainID, IdentityID: identityID,
			Email: c.email, EmailVerified: true})
		if err != nil {
			return err
		}
	}
	if !redeemed && b.JITPolicy != "allow" {
		return signInError(http.StatusBadRequest, "jit_denied", "This IdP binding does not provision new users; ask an administrator.")
	}
	return nil
}

// verified reads an email_verified claim: a JSON boolean, or the string
// "true" some providers send.
func verified(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(t, "true")
	}
	return false
}
