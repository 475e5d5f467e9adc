package invitation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/pathid"
	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

const basePath = "/v1/domains/{id}/invitations"

type createInput struct {
	ID   string `path:"id" doc:"Domain id."`
	Body apiv1.CreateInvitation
}

type listInput struct {
	ID     string `path:"id" doc:"Domain id."`
	Status string `query:"status" doc:"pending, accepted, revoked, expired or all (the default)."`
	page.Params
}

type oneInput struct {
	ID           string `path:"id" doc:"Domain id."`
	InvitationID string `path:"invitationId" doc:"Invitation id."`
}

type oneOutput struct {
	Location string `header:"Location"`
	Body     apiv1.Invitation
}

type listOutput struct {
	Body apiv1.List[apiv1.Invitation]
}

// Register adds the contract's invitation operations.
func (s *Service) Register(api huma.API) {
	tags := "Domain invitations"
	op := route.Op(http.MethodPost, basePath, "CreateInvitation", "invitation.create", route.Operator,
		"Invite an e-mail address to a Domain with initial roles or groups", tags)
	op.DefaultStatus = http.StatusCreated
	huma.Register(api, op, s.create)
	huma.Register(api, route.Op(http.MethodGet, basePath, "ListInvitations", "invitation.list", route.Operator,
		"List a Domain's invitations", tags), s.list)
	one := basePath + "/{invitationId}"
	huma.Register(api, route.Op(http.MethodGet, one, "GetInvitation", "invitation.read", route.Operator,
		"Read an invitation", tags), s.get)
	op = route.Op(http.MethodDelete, one, "RevokeInvitation", "invitation.revoke", route.Operator,
		"Revoke a pending invitation", tags)
	op.DefaultStatus = http.StatusNoContent
	huma.Register(api, op, s.revoke)
}

func (s *Service) create(ctx context.Context, in *createInput) (*oneOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	b := in.Body
	email := strings.TrimSpace(b.ExternalSubject)
	if email == "" || !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		return nil, problem.BadRequest("invalid_body", "external_subject must be the invitee's e-mail address.")
	}
	ttl := DefaultTTL
	if b.TTLSeconds != 0 {
		ttl = time.Duration(b.TTLSeconds) * time.Second
		if ttl < MinTTL || ttl > MaxTTL {
			return nil, problem.BadRequest("invalid_ttl", "ttl_seconds must be between 60 and 604800.")
		}
	}
	staged, err := s.stage(ctx, domainID, b.InitialTuples)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(staged)
	if err != nil {
		return nil, problem.Internal(err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	inv := apiv1.Invitation{ID: uuid.Must(uuid.NewV7()).String(), DomainID: domainID,
		ExternalSubjectPseudonym: s.pseudonym(domainID, email), Status: "pending", CreatedAt: now,
		ExpiresAt: now.Add(ttl), InitialTuples: staged}
	audit.RequestFrom(ctx).Target(domainID, "invitation", inv.ID)
	createdBy := "anonymous"
	if p := principal.From(ctx); p != nil {
		createdBy = p.Ref()
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// A pending invitation past its expiry no longer blocks a new one.
		if _, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'expired', expired_at = expires_at
			WHERE domain_id = $1 AND subject_pseudonym = $2 AND status = 'pending' AND expires_at <= $3`,
			domainID, inv.ExternalSubjectPseudonym, store.Micros(now)); err != nil {
			return err
		}
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT id FROM invitations WHERE domain_id = $1 AND subject_pseudonym = $2
			AND status = 'pending'`, domainID, inv.ExternalSubjectPseudonym).Scan(&existing)
		if err == nil {
			return alreadyPending(existing)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invitations (id, domain_id, subject_pseudonym, status, initial_tuples,
			created_by, created_at, expires_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7)`, inv.ID, domainID,
			inv.ExternalSubjectPseudonym, string(raw), createdBy, store.Micros(now), store.Micros(inv.ExpiresAt))
		if store.IsUniqueViolation(err) {
			return alreadyPending("")
		}
		if err != nil {
			return err
		}
		return s.audit.Commit(ctx, tx)
	})
	if err != nil {
		return nil, problem.From(err)
	}
	inv.SignInURL = s.signInURL(domainID)
	return &oneOutput{Location: "/v1/domains/" + domainID + "/invitations/" + inv.ID, Body: inv}, nil
}

func alreadyPending(id string) *problem.Problem {
	detail := "A pending invitation already exists for this address in this Domain"
	if id != "" {
		detail += "; existing id " + id
	}
	return problem.Conflict("invitation_already_pending", detail+".")
}

// signInURL is the link the invitee follows: the sign-in start for the
// Domain (POST {"domain_id": …}, as the dashboard and plexctl login do).
func (s *Service) signInURL(domainID string) string {
	return s.publicURL + "/v1/auth/sign-in?domain_id=" + domainID
}

const columns = `id, domain_id, subject_pseudonym, status, initial_tuples, created_at, expires_at, accepted_at,
	COALESCE(accepted_user_id, ''), revoked_at, expired_at`

// scan reads one row and settles its status: a pending row past its
// expiry is expired.
func (s *Service) scan(row interface{ Scan(...any) error }) (apiv1.Invitation, error) {
	var (
		inv                         apiv1.Invitation
		raw                         string
		created, expires            int64
		accepted, revoked, expiredA *int64
	)
	err := row.Scan(&inv.ID, &inv.DomainID, &inv.ExternalSubjectPseudonym, &inv.Status, &raw, &created, &expires,
		&accepted, &inv.AcceptedUserID, &revoked, &expiredA)
	if err != nil {
		return inv, err
	}
	inv.CreatedAt, inv.ExpiresAt = store.Time(created), store.Time(expires)
	inv.AcceptedAt, inv.RevokedAt, inv.ExpiredAt = store.NullTime(accepted), store.NullTime(revoked), store.NullTime(expiredA)
	if inv.Status == "pending" && !s.now().Before(inv.ExpiresAt) {
		inv.Status, inv.ExpiredAt = "expired", &inv.ExpiresAt
	}
	inv.InitialTuples = []apiv1.InvitationTuple{}
	if err := json.Unmarshal([]byte(raw), &inv.InitialTuples); err != nil {
		return inv, err
	}
	inv.SignInURL = s.signInURL(inv.DomainID)
	return inv, nil
}

func (s *Service) load(ctx context.Context, q store.Querier, domainID, id string) (apiv1.Invitation, error) {
	inv, err := s.scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM invitations WHERE id = $1 AND domain_id = $2`,
		id, domainID))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, problem.NotFound("invitation_not_found", "No such invitation in this Domain.")
	}
	return inv, err
}

func (s *Service) get(ctx context.Context, in *oneInput) (*oneOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "read")
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("invitation", in.InvitationID)
	if err != nil {
		return nil, err
	}
	inv, err := s.load(ctx, s.db, domainID, id)
	if err != nil {
		return nil, problem.From(err)
	}
	return &oneOutput{Body: inv}, nil
}

// statuses are the list filter's values ("" is all).
var statuses = map[string]bool{"": true, "all": true, "pending": true, "accepted": true, "revoked": true, "expired": true}

// listPos is the keyset position of the (created_at DESC, id DESC) order.
type listPos struct {
	C int64  `json:"c"`
	I string `json:"i"`
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	domainID, err := s.domainGate(ctx, in.ID, "read")
	if err != nil {
		return nil, err
	}
	if !statuses[in.Status] {
		return nil, problem.BadRequest("invalid_status", "status must be one of pending, accepted, revoked, expired, all.")
	}
	status := in.Status
	if status == "all" {
		status = ""
	}
	scope := "invitations.list:" + domainID + ":" + status
	pos := listPos{C: 1<<62 - 1}
	limit, err := s.pages.Start(ctx, in.Params, scope, &pos)
	if err != nil {
		return nil, err
	}
	// pending and expired are read through expiry: a stored pending row
	// past expires_at lists as expired.
	args := []any{domainID, pos.C, pos.I, limit + 1}
	filter := ""
	switch status {
	case "pending":
		filter, args = ` AND status = 'pending' AND expires_at > $5`, append(args, store.Micros(s.now()))
	case "expired":
		filter, args = ` AND (status = 'expired' OR (status = 'pending' AND expires_at <= $5))`, append(args, store.Micros(s.now()))
	case "accepted", "revoked":
		filter, args = ` AND status = $5`, append(args, status)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM invitations WHERE domain_id = $1
		AND (created_at < $2 OR (created_at = $2 AND id < $3))`+filter+`
		ORDER BY created_at DESC, id DESC LIMIT $4`, args...)
	if err != nil {
		return nil, problem.Internal(err)
	}
	defer rows.Close()
	out := &listOutput{Body: apiv1.List[apiv1.Invitation]{Items: []apiv1.Invitation{}}}
	for rows.Next() {
		inv, err := s.scan(rows)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body.Items = append(out.Body.Items, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, problem.Internal(err)
	}
	if len(out.Body.Items) > limit {
		out.Body.Items = out.Body.Items[:limit]
		last := out.Body.Items[limit-1]
		if out.Body.NextCursor, err = s.pages.Next(ctx, scope, listPos{C: store.Micros(last.CreatedAt), I: last.ID}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) revoke(ctx context.Context, in *oneInput) (*struct{}, error) {
	domainID, err := s.domainGate(ctx, in.ID, "manage")
	if err != nil {
		return nil, err
	}
	id, err := pathid.Parse("invitation", in.InvitationID)
	if err != nil {
		return nil, err
	}
	audit.RequestFrom(ctx).Target(domainID, "invitation", id)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		inv, err := s.load(ctx, tx, domainID, id)
		if err != nil {
			return err
		}
		switch inv.Status {
		case "revoked":
			return errNoop
		case "accepted":
			return problem.Conflict("invitation_already_accepted", "This invitation has already been accepted.")
		case "expired":
			return problem.Conflict("invitation_already_expired", "This invitation has already expired.")
		}
		res, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'revoked', revoked_at = $2
			WHERE id = $1 AND status = 'pending'`, id, store.Micros(s.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return problem.Conflict("invitation_already_accepted", "This invitation was redeemed meanwhile.")
		}
		return s.audit.Commit(ctx, tx)
	})
	if errors.Is(err, errNoop) {
		return nil, nil
	}
	if err != nil {
		return nil, problem.From(err)
	}
	return nil, nil
}

// errNoop ends a transaction that has nothing to change.
var errNoop = errors.New("invitation: nothing to change")

// domainGate is pathid.Domain with the service's store and guard.
func (s *Service) domainGate(ctx context.Context, raw, permission string) (string, error) {
	return pathid.Domain(ctx, s.db, s.authz, raw, permission)
}
