package plexctl

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// pageFlags are --limit and --cursor of list commands. Without either,
// a list command pages through every result.
type pageFlags struct {
	limit  int
	cursor string
}

func addPageFlags(cmd *cobra.Command, pf *pageFlags) {
	cmd.Flags().IntVar(&pf.limit, "limit", 0, "fetch one page of at most this many items (server range 1..200)")
	cmd.Flags().StringVar(&pf.cursor, "cursor", "", "fetch the one page that starts at this cursor (from next_cursor)")
}

// fetchList fetches one page when --limit or --cursor is given, else all
// pages (next_cursor then stays empty).
func fetchList[T any](ctx context.Context, pf pageFlags, fetch apiclient.PageFunc[T]) (*apiv1.List[T], error) {
	if pf.limit < 0 {
		return nil, usagef("--limit must not be negative")
	}
	opts := apiclient.ListOptions{Cursor: pf.cursor, Limit: pf.limit}
	if pf.limit > 0 || pf.cursor != "" {
		return fetch(ctx, opts)
	}
	all := &apiv1.List[T]{Items: []T{}}
	for page, err := range apiclient.Pages(ctx, opts, fetch) {
		if err != nil {
			return nil, err
		}
		all.Items = append(all.Items, page.Items...)
		all.EmptyReason = page.EmptyReason
	}
	if len(all.Items) > 0 {
		all.EmptyReason = ""
	}
	return all, nil
}

// listCommand runs a list: resolve the client, fetch per pageFlags, print.
func listCommand[T any](a *app, cmd *cobra.Command, pf *pageFlags, cols []column[T],
	fetch func(c *apiclient.Client) apiclient.PageFunc[T]) {
	addPageFlags(cmd, pf)
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := fetchList(cmd.Context(), *pf, fetch(c))
		if err != nil {
			return err
		}
		return printList(a, l, cols)
	})
}
