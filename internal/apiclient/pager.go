package apiclient

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"strconv"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ListOptions selects one page of a list (api.md §2.5). Zero values are
// not sent: the server starts at the beginning with its default limit.
type ListOptions struct {
	Cursor string
	Limit  int
}

// PageFunc fetches the page that opts selects. Client list methods have
// this shape, or adapt to it with a closure that fixes their filters.
type PageFunc[T any] func(ctx context.Context, opts ListOptions) (*apiv1.List[T], error)

// ErrCursorLoop is yielded when the server hands back a cursor it already
// handed back during the same iteration.
var ErrCursorLoop = errors.New("apiclient: server repeated a pagination cursor")

// Pages yields the pages of a list, starting at opts and following
// next_cursor until the server omits it. The first error ends the
// iteration (it is yielded once, with a nil page).
func Pages[T any](ctx context.Context, opts ListOptions, fetch PageFunc[T]) iter.Seq2[*apiv1.List[T], error] {
	return func(yield func(*apiv1.List[T], error) bool) {
		seen := map[string]bool{}
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			page, err := fetch(ctx, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) || page.NextCursor == "" {
				return
			}
			if seen[page.NextCursor] {
				yield(nil, ErrCursorLoop)
				return
			}
			seen[page.NextCursor] = true
			opts.Cursor = page.NextCursor
		}
	}
}

// Items yields every item of a list across pages; see Pages.
func Items[T any](ctx context.Context, opts ListOptions, fetch PageFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for page, err := range Pages(ctx, opts, fetch) {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// Collect gathers every item of a list across pages.
func Collect[T any](ctx context.Context, opts ListOptions, fetch PageFunc[T]) ([]T, error) {
	out := []T{}
	for it, err := range Items(ctx, opts, fetch) {
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}

// values returns the pagination parameters as a query, to which callers
// add their filters.
func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}
