package tenancy

import (
	"context"
	"database/sql"
	"errors"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// listPage runs a keyset list query that asks for limit+1 rows, scans each
// row with scan and keeps limit of them; when there was one more, it mints
// the cursor to the next page under scope from pos of the last row kept.
// Items is never nil.
func listPage[T any](ctx context.Context, s *Service, scope string, limit int,
	scan func(interface{ Scan(...any) error }) (T, error), pos func(T) any, query string, args ...any) (apiv1.List[T], error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return apiv1.List[T]{}, problem.Internal(err)
	}
	defer rows.Close()
	list := apiv1.List[T]{Items: []T{}}
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return apiv1.List[T]{}, problem.Internal(err)
		}
		list.Items = append(list.Items, it)
	}
	if err := rows.Err(); err != nil {
		return apiv1.List[T]{}, problem.Internal(err)
	}
	if len(list.Items) > limit {
		list.Items = list.Items[:limit]
		if list.NextCursor, err = s.pages.Next(ctx, scope, pos(list.Items[limit-1])); err != nil {
			return apiv1.List[T]{}, err
		}
	}
	return list, nil
}

// keepVisible drops from list the items the caller may not see with
// permission (object names each item's object); a page that fetched items
// but shows none says why.
func keepVisible[T any](ctx context.Context, a Authorizer, permission string, list *apiv1.List[T], object func(T) string) error {
	objs := make([]string, len(list.Items))
	for i, it := range list.Items {
		objs[i] = object(it)
	}
	ok, err := a.Visible(ctx, permission, objs)
	if err != nil {
		return err
	}
	kept := list.Items[:0]
	for i, it := range list.Items {
		if ok[i] {
			kept = append(kept, it)
		}
	}
	if len(list.Items) > 0 && len(kept) == 0 {
		list.EmptyReason = "no_rebac_membership"
	}
	list.Items = kept
	return nil
}

// getRow reads one row with scan; no row is the given 404 problem, any
// other failure a 500.
func getRow[T any](row interface{ Scan(...any) error }, scan func(interface{ Scan(...any) error }) (T, error),
	notFound *problem.Problem) (T, error) {
	v, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound
	}
	if err != nil {
		return v, problem.Internal(err)
	}
	return v, nil
}
