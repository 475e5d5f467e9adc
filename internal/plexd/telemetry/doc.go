// Package telemetry is plexd's telemetry pipeline (node-protocol.md
// §12.7): collectors for system metrics (/proc), WireGuard tunnel stats
// and peer latency (the mesh engine), journald logs (an allow-list of
// units) and auditd records; a bounded on-disk queue under the data
// directory that survives restarts and drops the oldest batches when full,
// counting what it dropped; and one sender per kind that posts batches
// with an Idempotency-Key, gzipped above 1 KiB, waiting out 429
// Retry-After, splitting on 413, backing off on 5xx and network errors and
// dropping (and counting) batches any other 4xx refuses.
//
// Telemetry.Run drives it all with the agent's context; every collector
// is an interface, so tests feed their own records.
package telemetry
