// Package e2e holds end-to-end tests of the built programs: the plexsphere
// binary serving on a real port over SQLite and PostgreSQL, driven over HTTP
// and by plexctl, and the offline audit verifier against a database that a
// test tampered with directly.
package e2e
