// Package store owns the database: opening SQLite or PostgreSQL, the embedded
// migrations that run on both, transactions, and the few dialect differences
// (row locks, constraint errors) that callers must not care about.
//
// Each bounded context owns its tables and queries; this package owns only the
// connection and the schema history. Queries use `$n` placeholders, which both
// drivers accept, and portable types: TEXT ids, BIGINT Unix-microsecond times,
// TEXT JSON documents.
package store
