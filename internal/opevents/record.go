// Package opevents is the operator event stream (api.md §3 "Operator
// stream", issue 13): GET /v1/domains/{domainId}/events, server-sent
// events that tell a dashboard or plexctl what changed in a Domain so it
// can re-read the object.
//
// Events are written to operator_events in the transaction of the change
// they report (an outbox, like the node event log of internal/events):
// every audit append calls [Service.FromAudit] inside its transaction, which
// records audit_appended and, for the changes that have a type of their own
// (a node registered or deleted, a policy revision, an execution or session
// change), that event too. Reachability is projected from heartbeat times,
// not written, so a sweeper records node_reachability_changed when a node's
// projected state differs from the last one announced (compare-and-set per
// node, so one replica announces each change once).
//
// Each Domain's log has its own sequence (the SSE id, Last-Event-ID
// resumes) and is bounded: the newest Retain events and none older than
// RetainFor. Live subscribers are woken by one poller that reads the
// Domain heads: at once and shortly after an event is recorded on this
// replica, and every Poll otherwise, so events of other replicas arrive
// too.
package opevents

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/store"
)

// Event types.
const (
	NodeRegistered          = "node_registered"
	NodeDeleted             = "node_deleted"
	NodeReachabilityChanged = "node_reachability_changed"
	PolicyRevisionCreated   = "policy_revision_created"
	ExecutionUpdated        = "execution_updated"
	SessionUpdated          = "session_updated"
	AuditAppended           = "audit_appended"
)

// Types lists every event type.
var Types = []string{NodeRegistered, NodeDeleted, NodeReachabilityChanged, PolicyRevisionCreated,
	ExecutionUpdated, SessionUpdated, AuditAppended}

// Event is one event as recorded.
type Event struct {
	DomainID   string
	Type       string
	ObjectType string
	ObjectID   string
	// ProjectID is the Project of the object, when it has one: a subscriber
	// who may read the Project may read the event.
	ProjectID string
	// Payload is the summary sent as data (marshalled to JSON).
	Payload any
}

const (
	sqlBump = `INSERT INTO operator_event_heads (domain_id, last_seq) VALUES ($1, 1)
		ON CONFLICT (domain_id) DO UPDATE SET last_seq = operator_event_heads.last_seq + 1 RETURNING last_seq`
	sqlInsert = `INSERT INTO operator_events (domain_id, seq, event_type, object_type, object_id, project_id, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
)

// Record appends ev to its Domain's log inside tx.
func (s *Service) Record(ctx context.Context, tx *sql.Tx, ev Event) error {
	raw, err := json.Marshal(ev.Payload)
	if err != nil {
		return fmt.Errorf("opevents: payload: %w", err)
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, sqlBump, ev.DomainID).Scan(&seq); err != nil {
		return fmt.Errorf("opevents: head: %w", err)
	}
	if _, err := tx.ExecContext(ctx, sqlInsert, ev.DomainID, seq, ev.Type, ev.ObjectType, ev.ObjectID, ev.ProjectID,
		string(raw), store.Micros(s.cfg.Now())); err != nil {
		return fmt.Errorf("opevents: insert: %w", err)
	}
	s.nudge()
	return nil
}

// Summaries (the data of each event type). Clients re-read the object.
type (
	// NodeSummary is the data of node_registered and node_deleted.
	NodeSummary struct {
		DomainID  string `json:"domain_id"`
		NodeID    string `json:"node_id"`
		ProjectID string `json:"project_id,omitempty"`
		Action    string `json:"action"`
	}
	// ReachabilitySummary is the data of node_reachability_changed.
	ReachabilitySummary struct {
		DomainID      string `json:"domain_id"`
		NodeID        string `json:"node_id"`
		ProjectID     string `json:"project_id,omitempty"`
		State         string `json:"state"`
		PreviousState string `json:"previous_state"`
	}
	// ObjectSummary is the data of policy_revision_created,
	// execution_updated and session_updated.
	ObjectSummary struct {
		DomainID   string `json:"domain_id"`
		ObjectType string `json:"object_type"`
		ObjectID   string `json:"object_id"`
		ProjectID  string `json:"project_id,omitempty"`
		Action     string `json:"action"`
	}
	// AuditSummary is the data of audit_appended.
	AuditSummary struct {
		DomainID string `json:"domain_id"`
		Seq      int64  `json:"seq"`
		Action   string `json:"action"`
		Outcome  string `json:"outcome"`
	}
)

// projectOf names, per object type, the query for the object's Project.
var projectOf = map[string]string{
	"node":      `SELECT project_id FROM nodes WHERE id = $1`,
	"policy":    `SELECT project_id FROM policies WHERE id = $1`,
	"execution": `SELECT project_id FROM executions WHERE id = $1`,
	"session":   `SELECT project_id FROM access_sessions WHERE id = $1`,
}

// typed returns the event type an audit entry also reports, or "".
func typed(e audit.Entry) string {
	if e.Outcome != audit.Succeeded || e.ObjectID == "" {
		return ""
	}
	switch e.ObjectType {
	case "node":
		switch e.Action {
		case "node.register":
			return NodeRegistered
		case "node.delete", "node.deregister":
			return NodeDeleted
		}
	case "policy":
		if e.Action == "policy.create" || e.Action == "policy.update" {
			return PolicyRevisionCreated
		}
	case "execution":
		if !reading(e.Action) {
			return ExecutionUpdated
		}
	case "session":
		if !reading(e.Action) {
			return SessionUpdated
		}
	}
	return ""
}

// reading reports whether an action only reads.
func reading(action string) bool {
	for _, suffix := range []string{".read", ".list", ".stream", ".preview"} {
		if strings.HasSuffix(action, suffix) {
			return true
		}
	}
	return false
}

// FromAudit records the events an audit entry reports, inside the
// transaction that appends it: audit_appended for every entry of a Domain
// chain, and the typed event before it when there is one. Install it with
// audit.Log.OnAppend.
func (s *Service) FromAudit(ctx context.Context, tx *sql.Tx, e audit.Entry) error {
	if e.ChainID == audit.PlatformChain || e.ChainID == "" {
		return nil
	}
	if typ := typed(e); typ != "" {
		var pid string
		if q, ok := projectOf[e.ObjectType]; ok {
			err := tx.QueryRowContext(ctx, q, e.ObjectID).Scan(&pid)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("opevents: project of %s: %w", e.ObjectType, err)
			}
		}
		ev := Event{DomainID: e.ChainID, Type: typ, ObjectType: e.ObjectType, ObjectID: e.ObjectID, ProjectID: pid}
		if e.ObjectType == "node" {
			ev.Payload = NodeSummary{DomainID: e.ChainID, NodeID: e.ObjectID, ProjectID: pid, Action: e.Action}
		} else {
			ev.Payload = ObjectSummary{DomainID: e.ChainID, ObjectType: e.ObjectType, ObjectID: e.ObjectID, ProjectID: pid,
				Action: e.Action}
		}
		if err := s.Record(ctx, tx, ev); err != nil {
			return err
		}
	}
	return s.Record(ctx, tx, Event{DomainID: e.ChainID, Type: AuditAppended, ObjectType: "domain", ObjectID: e.ChainID,
		Payload: AuditSummary{DomainID: e.ChainID, Seq: e.Seq, Action: e.Action, Outcome: e.Outcome}})
}
