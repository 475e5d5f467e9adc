// Package invitation owns a Domain's invitations (issue 16): an operator
// invites an e-mail address with initial relation tuples (roles on the
// Domain or its Projects, membership of its groups); the invitee's first
// sign-in through the Domain whose ID token carries that address verified
// redeems it, once, writing the tuples in the sign-in's transaction
// (internal/oidc calls [Service.Redeem]). Nothing is mailed: the API
// answers with the sign-in link. The address itself is never stored, only
// its per-Domain pseudonym, which is also what redemption looks up.
package invitation
