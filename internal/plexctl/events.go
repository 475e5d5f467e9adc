package plexctl

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// eventsCommand follows a Domain's operator event stream (issue 13).
func (a *app) eventsCommand() *cobra.Command {
	var (
		domain string
		types  []string
		after  int64
	)
	cmd := calls(&cobra.Command{
		Use:   "events",
		Short: "Follow a Domain's operator events live, one JSON object a line",
		Long: `Follow a Domain's operator event stream: node registrations, deletions and
reachability changes, policy revisions, execution and session updates, and
audit appends, as they happen. Each event is printed as one JSON line
{"id","type","data"}; data is a summary, re-read the object for the rest.
Only events on objects you may read are delivered. --types narrows the
types; --after resumes after an event id (from an earlier run). Runs until
interrupted or the server ends the stream.`,
		Example: `  plexctl events --domain 0190c0de-…
  plexctl events --domain 0190c0de-… --types node_registered,node_reachability_changed
  plexctl events --domain 0190c0de-… --after 1041`,
		Args: exactArgs(),
	}, "StreamDomainEvents")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		opts := apiclient.DomainEventsOptions{}
		for _, t := range types {
			if t = strings.TrimSpace(t); t != "" {
				opts.Types = append(opts.Types, t)
			}
		}
		if cmd.Flags().Changed("after") {
			if after < 0 {
				return usagef("--after must be an event id (0 or more)")
			}
			opts.LastEventID = &after
		}
		s, err := c.StreamDomainEvents(cmd.Context(), domain, opts)
		if err != nil {
			return err
		}
		defer s.Close()
		enc := json.NewEncoder(a.stdout)
		for {
			ev, err := s.Next()
			if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
	})
	addDomainFlag(cmd, &domain)
	cmd.Flags().StringSliceVar(&types, "types", nil, "only these event types (comma-separated)")
	cmd.Flags().Int64Var(&after, "after", 0, "resume after this event id")
	return cmd
}
