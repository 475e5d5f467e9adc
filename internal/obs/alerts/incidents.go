package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

const incidentColumns = `id, domain_id, title, severity, status, opened_at, resolved_at, rule_id, fingerprint, labels`

func scanIncident(sc interface{ Scan(...any) error }) (apiv1.Incident, error) {
	var (
		in         apiv1.Incident
		opened     int64
		resolved   sql.NullInt64
		labelsJSON string
	)
	err := sc.Scan(&in.ID, &in.DomainID, &in.Title, &in.Severity, &in.Status, &opened, &resolved, &in.AlertRuleID,
		&in.Fingerprint, &labelsJSON)
	if err != nil {
		return in, err
	}
	in.OpenedAt = time.UnixMicro(opened).UTC()
	if resolved.Valid {
		t := time.UnixMicro(resolved.Int64).UTC()
		in.ResolvedAt = &t
	}
	if err := json.Unmarshal([]byte(labelsJSON), &in.Labels); err != nil {
		return in, err
	}
	if len(in.Labels) == 0 {
		in.Labels = nil
	}
	in.Timeline = []apiv1.TimelineEvent{}
	return in, nil
}

type incidentInput struct {
	DomainID   string `path:"domainId" doc:"The Domain id."`
	IncidentID string `path:"incidentId" doc:"The incident id."`
}

type listIncidentsInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	Status   string `query:"status" doc:"Only open or only resolved incidents."`
	page.Params
}

type openIncidentInput struct {
	DomainID string `path:"domainId" doc:"The Domain id."`
	Body     apiv1.IncidentOpenRequest
}

type appendEventInput struct {
	DomainID   string `path:"domainId" doc:"The Domain id."`
	IncidentID string `path:"incidentId" doc:"The incident id."`
	Body       apiv1.TimelineEventAppend
}

type incidentOutput struct {
	Location string `header:"Location"`
	Body     apiv1.Incident
}

type incidentsOutput struct {
	Body apiv1.List[apiv1.Incident]
}

type eventOutput struct {
	Body apiv1.TimelineEvent
}

func (s *Service) registerIncidents(api huma.API) {
	const base = "/v1/domains/{domainId}/incidents"
	op := route.Op(http.MethodGet, base, "ListIncidents", "incident.list", route.Operator,
		"List the incidents of a Domain", "Observability")
	op.Description = "Newest first, without the timelines. Requires domain-view on the Domain."
	huma.Register(api, op, s.listIncidents)
	op = route.Op(http.MethodPost, base, "OpenIncident", "incident.open", route.Operator,
		"Open an incident", "Observability")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.openIncident)
	op = route.Op(http.MethodGet, base+"/{incidentId}", "GetIncident", "incident.read", route.Operator,
		"Read an incident with its timeline", "Observability")
	huma.Register(api, op, s.getIncident)
	op = route.Op(http.MethodPost, base+"/{incidentId}/events", "AppendIncidentEvent", "incident.append_event",
		route.Operator, "Append an event to an incident's timeline", "Observability")
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.appendEvent)
	// The contract's custom verb ({incidentId}:resolve) is not a net/http
	// pattern: the route is the incident's path, hidden, and the handler
	// requires the verb; the document shows the contract's path.
	op = route.Op(http.MethodPost, base+"/{incidentId}:resolve", "ResolveIncident", "incident.resolve", route.Operator,
		"Resolve an open incident", "Observability")
	op.Description = "An incident an alert rule opened stays resolved while its alert keeps firing; its webhook " +
		"gets a resolved notification."
	routed := op
	routed.Path, routed.Hidden = base+"/{incidentId}", true
	huma.Register(api, routed, s.resolveIncident)
	doc := op
	doc.Parameters = []*huma.Param{
		{Name: "domainId", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Format: "uuid"}},
		{Name: "incidentId", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Format: "uuid"}},
	}
	doc.Responses = map[string]*huma.Response{"200": {Description: "The resolved incident with its timeline.",
		Content: map[string]*huma.MediaType{"application/json": {
			Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[apiv1.Incident](), true, "")}}}}
	api.OpenAPI().AddOperation(&doc)
}

func (s *Service) listIncidents(ctx context.Context, in *listIncidentsInput) (*incidentsOutput, error) {
	domainID, err := parseID(in.DomainID, CodeInvalidDomainID, "domain id")
	if err != nil {
		return nil, err
	}
	if in.Status != "" && in.Status != apiv1.IncidentOpen && in.Status != apiv1.IncidentResolved {
		return nil, problem.BadRequest(CodeStatusInvalid, "status must be open or resolved.")
	}
	if err := s.authorize(ctx, domainID, "domain-view"); err != nil {
		return nil, err
	}
	key := "incidents.list?domain=" + domainID + "&status=" + in.Status
	var before string
	limit, err := s.pageStart(ctx, in.Params, key, &before)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE domain_id = $1 AND ($2 = '' OR id < $2)
		AND ($3 = '' OR status = $3) ORDER BY id DESC LIMIT ` + strconv.Itoa(limit+1)
	rows, err := s.cfg.DB.QueryContext(ctx, q, domainID, before, in.Status)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &incidentsOutput{Body: apiv1.List[apiv1.Incident]{Items: []apiv1.Incident{}}}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		if out.Body.NextCursor, err = s.cfg.Pages.Next(ctx, key, out.Body.Items[limit-1].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) openIncident(ctx context.Context, in *openIncidentInput) (*incidentOutput, error) {
	domainID, err := parseID(in.DomainID, CodeInvalidDomainID, "domain id")
	if err != nil {
		return nil, err
	}
	inc := apiv1.Incident{ID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID, Title: in.Body.Title,
		Severity: in.Body.Severity, Status: apiv1.IncidentOpen, OpenedAt: s.stamp(), Timeline: []apiv1.TimelineEvent{}}
	audit.RequestFrom(ctx).Target(domainID, "incident", inc.ID)
	if err := s.authorize(ctx, domainID, "domain-edit"); err != nil {
		return nil, err
	}
	if t := strings.TrimSpace(inc.Title); t == "" || utf8.RuneCountInString(inc.Title) > maxTitle || !utf8.ValidString(inc.Title) {
		return nil, problem.BadRequest(CodeIncidentInvalid, "title must be 1 to 256 characters.")
	}
	switch inc.Severity {
	case apiv1.SeverityInfo, apiv1.SeverityWarning, apiv1.SeverityCritical:
	default:
		return nil, problem.BadRequest(CodeIncidentInvalid, "severity must be info, warning or critical.")
	}
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertIncident(ctx, tx, inc, time.Time{}, nil); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &incidentOutput{Location: "/v1/domains/" + domainID + "/incidents/" + inc.ID, Body: inc}, nil
}

// insertIncident stores an open incident; openKey (rule id and
// fingerprint) is set for one an alert rule opened.
func insertIncident(ctx context.Context, tx *sql.Tx, inc apiv1.Incident, activeAt time.Time, openKey *string) error {
	var active int64
	if !activeAt.IsZero() {
		active = store.Micros(activeAt)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, domain_id, title, severity, status, opened_at, rule_id,
		fingerprint, labels, active_at, open_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		inc.ID, inc.DomainID, inc.Title, inc.Severity, inc.Status, store.Micros(inc.OpenedAt), inc.AlertRuleID,
		inc.Fingerprint, labelsText(inc.Labels), active, openKey)
	return err
}

// insertEvent appends one event to an incident's timeline.
func insertEvent(ctx context.Context, tx *sql.Tx, ev apiv1.TimelineEvent) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incident_events (id, incident_id, kind, message, occurred_at)
		VALUES ($1, $2, $3, $4, $5)`, ev.ID, ev.IncidentID, ev.Kind, ev.Message, store.Micros(ev.OccurredAt))
	return err
}

func newEvent(incidentID, kind, message string, at time.Time) apiv1.TimelineEvent {
	return apiv1.TimelineEvent{ID: uuid.Must(uuid.NewV7()).String(), IncidentID: incidentID, Kind: kind, Message: message,
		OccurredAt: at.UTC().Truncate(time.Microsecond)}
}

// loadIncident reads an incident of the Domain, authorized, without its
// timeline.
func (s *Service) loadIncident(ctx context.Context, in incidentInput, permission string) (apiv1.Incident, error) {
	domainID, err := parseID(in.DomainID, CodeInvalidDomainID, "domain id")
	if err != nil {
		return apiv1.Incident{}, err
	}
	id, err := parseID(in.IncidentID, CodeInvalidIncident, "incident id")
	if err != nil {
		return apiv1.Incident{}, err
	}
	audit.RequestFrom(ctx).Target(domainID, "incident", id)
	if err := s.authorize(ctx, domainID, permission); err != nil {
		return apiv1.Incident{}, err
	}
	return readIncident(ctx, s.cfg.DB, domainID, id)
}

func readIncident(ctx context.Context, q queryer, domainID, id string) (apiv1.Incident, error) {
	inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 AND domain_id = $2`,
		id, domainID))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, problem.NotFound(CodeIncidentNotFound, "No such incident in the Domain.")
	}
	if err != nil {
		return inc, problem.Internal(err)
	}
	return inc, nil
}

// timeline reads an incident's events in order.
func timeline(ctx context.Context, q queryer, incidentID string) ([]apiv1.TimelineEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, message, occurred_at FROM incident_events WHERE incident_id = $1
		ORDER BY occurred_at, id`, incidentID)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := []apiv1.TimelineEvent{}
	for rows.Next() {
		ev := apiv1.TimelineEvent{IncidentID: incidentID}
		var at int64
		if err := rows.Scan(&ev.ID, &ev.Kind, &ev.Message, &at); err != nil {
			return nil, problem.Internal(err)
		}
		ev.OccurredAt = time.UnixMicro(at).UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	return out, nil
}

func (s *Service) getIncident(ctx context.Context, in *incidentInput) (*incidentOutput, error) {
	inc, err := s.loadIncident(ctx, *in, "domain-view")
	if err != nil {
		return nil, err
	}
	if inc.Timeline, err = timeline(ctx, s.cfg.DB, inc.ID); err != nil {
		return nil, err
	}
	return &incidentOutput{Body: inc}, nil
}

func (s *Service) appendEvent(ctx context.Context, in *appendEventInput) (*eventOutput, error) {
	inc, err := s.loadIncident(ctx, incidentInput{DomainID: in.DomainID, IncidentID: in.IncidentID}, "domain-edit")
	if err != nil {
		return nil, err
	}
	b := in.Body
	if b.Kind != apiv1.EventNote && b.Kind != apiv1.EventStatusChange {
		return nil, problem.BadRequest(CodeEventInvalid, "kind must be note or status_change.")
	}
	if strings.TrimSpace(b.Message) == "" || len(b.Message) > maxMessage || !utf8.ValidString(b.Message) {
		return nil, problem.BadRequest(CodeEventInvalid, "message must be 1 to 4096 bytes of UTF-8.")
	}
	ev := newEvent(inc.ID, b.Kind, b.Message, s.stamp())
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM incidents WHERE id = $1`+s.cfg.DB.ForUpdate(), inc.ID).
			Scan(&status); err != nil {
			return err
		}
		if status != apiv1.IncidentOpen {
			return problem.Conflict(CodeIncidentResolved, "The incident is resolved; its timeline is frozen.")
		}
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	return &eventOutput{Body: ev}, nil
}

func (s *Service) resolveIncident(ctx context.Context, in *incidentInput) (*incidentOutput, error) {
	id, ok := strings.CutSuffix(in.IncidentID, ":resolve")
	if !ok {
		return nil, problem.NotFound("route_not_found", "No operation at POST …/incidents/{incidentId}; resolve is POST …/incidents/{incidentId}:resolve.")
	}
	in.IncidentID = id
	inc, err := s.loadIncident(ctx, *in, "domain-edit")
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	err = s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.resolve(ctx, tx, inc, now, "Resolved by an operator.")
		if err != nil {
			return err
		}
		if !ok {
			return problem.Conflict(CodeAlreadyResolved, "The incident is already resolved.")
		}
		return s.cfg.Audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	inc, err = readIncident(ctx, s.cfg.DB, inc.DomainID, inc.ID)
	if err != nil {
		return nil, err
	}
	if inc.Timeline, err = timeline(ctx, s.cfg.DB, inc.ID); err != nil {
		return nil, err
	}
	return &incidentOutput{Body: inc}, nil
}

// resolve moves an open incident to resolved inside tx, appends the
// status change and, for an incident an alert rule opened, queues the
// resolved notification. It reports false when the incident was not open.
func (s *Service) resolve(ctx context.Context, tx *sql.Tx, inc apiv1.Incident, at time.Time, message string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE incidents SET status = $1, resolved_at = $2, open_key = NULL
		WHERE id = $3 AND status = $4`, apiv1.IncidentResolved, store.Micros(at), inc.ID, apiv1.IncidentOpen)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if err := insertEvent(ctx, tx, newEvent(inc.ID, apiv1.EventStatusChange, message, at)); err != nil {
		return false, err
	}
	if inc.AlertRuleID == "" {
		return true, nil
	}
	inc.Status, inc.ResolvedAt = apiv1.IncidentResolved, &at
	return true, s.enqueue(ctx, tx, inc, at, at)
}
