// Package events owns the signed event plane of spec/node-protocol.md §6–7:
// the durable per-node event log written in the transaction of the change
// that caused it (the outbox, DESIGN.md §4), its bounded retention, the
// fan-out that wakes connected streams after commit (in process, and across
// replicas through PostgreSQL LISTEN/NOTIFY), and the per-node SSE stream
// GET /v1/nodes/{id}/events, which signs every envelope at emission.
//
// Other contexts call Log.Emit inside their transaction. Who a node is (its
// Domain) and how events are signed (the Domain's keys, rotation) belong to
// the enrollment and signing contexts; this package reaches them through the
// small Directory and Keys interfaces it declares.
package events
