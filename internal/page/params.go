package page

import (
	"context"
	"errors"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/principal"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// Params are the pagination query parameters; list inputs embed them.
type Params struct {
	Cursor string `query:"cursor" maxLength:"2048" doc:"Opaque cursor from the previous page's next_cursor."`
	Limit  int64  `query:"limit" default:"50" doc:"Page size; out-of-range values are clamped to 1..200."`
}

// PageLimit is the clamped limit.
func (p Params) PageLimit() int { return int(max(1, min(p.Limit, MaxLimit))) }

func caller(ctx context.Context) string {
	if p := principal.From(ctx); p != nil {
		return p.Ref()
	}
	return "anonymous"
}

// Start decodes the cursor of p (if any) into pos for the operation scope
// and returns the page size. Errors are API problems.
func (c *Codec) Start(ctx context.Context, p Params, scope string, pos any) (int, error) {
	if p.Cursor != "" {
		err := c.Decode(p.Cursor, Binding{Caller: caller(ctx), Scope: scope}, pos)
		switch {
		case errors.Is(err, ErrBinding):
			return 0, problem.New(http.StatusForbidden, "cursor_binding_mismatch", "The cursor was issued to another caller.")
		case err != nil:
			return 0, problem.BadRequest("invalid_cursor", "The cursor is malformed, tampered with, or belongs to another listing.")
		}
	}
	return p.PageLimit(), nil
}

// Next mints the cursor that continues after pos.
func (c *Codec) Next(ctx context.Context, scope string, pos any) (string, error) {
	s, err := c.Encode(Binding{Caller: caller(ctx), Scope: scope}, pos)
	if err != nil {
		return "", problem.Internal(err)
	}
	return s, nil
}
