// Package session owns browser sessions: the plexsphere_session cookie
// (HttpOnly, SameSite=Strict, Path=/v1/, Secure under TLS) whose value is
// stored only as a SHA-256 hash, the script-readable plexsphere_csrf cookie
// of the double-submit check (derived from the session with a server key, so
// it rotates with every sign-in and sign-out), cookie authentication for the
// API middleware, sign-out and global sign-out.
//
// Sessions are created by the OIDC callback (package oidc) inside the
// transaction that provisions the user.
package session
