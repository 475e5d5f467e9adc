package plexctl

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// This file holds the inventory commands of fleet operations: node
// capabilities, declared hooks and integrity violations.

var capabilityColumns = []column[apiclient.CapabilityRow]{
	{"NODE", func(r apiclient.CapabilityRow) string { return r.NodeID }},
	{"STATUS", func(r apiclient.CapabilityRow) string { return r.Status }},
	{"VERSION", func(r apiclient.CapabilityRow) string { return r.BinaryVersion }},
	{"CHECKSUM", func(r apiclient.CapabilityRow) string { return shortSum(r.BinaryChecksum) }},
	{"BUILT-INS", func(r apiclient.CapabilityRow) string { return strings.Join(r.BuiltinActions, ",") }},
	{"HOOKS", func(r apiclient.CapabilityRow) string { return strings.Join(r.Hooks, ",") }},
	{"REPORTED", func(r apiclient.CapabilityRow) string { return ts(r.ReportedAt) }},
}

var hookColumns = []column[apiclient.DiscoveredHook]{
	{"NODE", func(h apiclient.DiscoveredHook) string { return h.NodeID }},
	{"NAME", func(h apiclient.DiscoveredHook) string { return h.Name }},
	{"DIGEST", func(h apiclient.DiscoveredHook) string { return h.ImageDigest }},
	{"MATCH", func(h apiclient.DiscoveredHook) string { return yesNo(h.ImageDigestMatch) }},
	{"DOMAIN", func(h apiclient.DiscoveredHook) string { return h.DomainID }},
}

var violationColumns = []column[apiclient.IntegrityViolation]{
	{"ID", func(v apiclient.IntegrityViolation) string { return v.ID }},
	{"NODE", func(v apiclient.IntegrityViolation) string { return v.NodeID }},
	{"KIND", func(v apiclient.IntegrityViolation) string { return v.Kind }},
	{"ARTIFACT", func(v apiclient.IntegrityViolation) string { return v.ArtifactID }},
	{"STATUS", func(v apiclient.IntegrityViolation) string { return v.Status }},
	{"DETECTED", func(v apiclient.IntegrityViolation) string { return ts(v.DetectedAt) }},
	{"ACKNOWLEDGED BY", func(v apiclient.IntegrityViolation) string { return v.AcknowledgedBySubject }},
}

// shortSum renders a SHA-256 as its first 12 hex digits.
func shortSum(sum []byte) string {
	h := hex.EncodeToString(sum)
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

func (a *app) capabilitiesCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "capabilities",
		Aliases: []string{"capability", "caps"},
		Short:   "Show what each node can run, and whether it has drifted",
		Example: `  plexctl capabilities list --project 0190c0de-…
  plexctl capabilities list --project 0190c0de-… --status drift`,
	})
	cmd.AddCommand(a.capabilitiesListCommand())
	return cmd
}

func (a *app) capabilitiesListCommand() *cobra.Command {
	var (
		pf      pageFlags
		project string
		filter  apiclient.CapabilityFilter
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List each node's reported binary, built-in actions and hooks with its drift status",
		Long: `List each node's capability manifest as it last reported it: binary version
and checksum, built-in actions and hooks. STATUS is drift when the node has
an open integrity violation (dispatches skip it unless --include-drifted),
match when it reported a binary checksum and has none, unknown otherwise.`,
		Example: `  plexctl capabilities list --project 0190c0de-…
  plexctl capabilities list --project 0190c0de-… --node 0190c0de-…-0007 -o yaml`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, capabilityColumns, func(c *apiclient.Client) apiclient.PageFunc[apiclient.CapabilityRow] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiclient.CapabilityRow], error) {
			return c.ListCapabilities(ctx, project, filter, o)
		}
	})
	run := cmd.RunE
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if err := oneOf("--status", filter.Status, "match", "drift", "unknown"); err != nil {
			return err
		}
		if err := a.nodeFilter(cmd.Context(), &filter.NodeID, project); err != nil {
			return err
		}
		return run(cmd, args)
	})
	addProjectFlag(cmd, &project)
	f := cmd.Flags()
	f.StringVar(&filter.NodeID, "node", "", "only this node (id or name)")
	f.StringVar(&filter.Status, "status", "", "only nodes in this status: match, drift or unknown")
	return calls(cmd, "ListCapabilities")
}

// nodeFilter turns a node name given as a filter into its id.
func (a *app) nodeFilter(ctx context.Context, ref *string, project string) error {
	*ref = strings.TrimSuffix(strings.TrimSpace(*ref), nodeSuffix)
	if *ref == "" || isUUID(*ref) {
		return nil
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	n, err := findNodeByName(ctx, c, *ref, project)
	if err != nil {
		return err
	}
	*ref = n.ID
	return nil
}

func (a *app) hooksCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "hooks",
		Aliases: []string{"hook"},
		Short:   "Show the hooks nodes declare",
		Example: `  plexctl hooks list --project 0190c0de-…
  plexctl hooks list --mismatch`,
	})
	cmd.AddCommand(a.hooksListCommand())
	return cmd
}

func (a *app) hooksListCommand() *cobra.Command {
	var (
		pf              pageFlags
		filter          apiclient.HookFilter
		match, mismatch bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the hooks nodes declare, with whether each digest matches",
		Long: `List the hooks the nodes you may read declare, one row per node and hook.
MATCH is no when the node declared no valid checksum for the hook or has an
open integrity violation for it (the hook on disk changed).`,
		Example: `  plexctl hooks list --project 0190c0de-…
  plexctl hooks list --domain 0190c0de-… --mismatch -o json`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, hookColumns, func(c *apiclient.Client) apiclient.PageFunc[apiclient.DiscoveredHook] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiclient.DiscoveredHook], error) {
			return c.ListHooks(ctx, filter, o)
		}
	})
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case match && mismatch:
			return usagef("--match and --mismatch exclude each other")
		case match || mismatch:
			filter.ImageDigestMatch = &match
		}
		return run(cmd, args)
	}
	f := cmd.Flags()
	f.StringVar(&filter.DomainID, "domain", "", "only hooks of nodes in this Domain id")
	f.StringVar(&filter.ProjectID, "project", "", "only hooks of nodes in this Project id")
	f.BoolVar(&match, "match", false, "only hooks whose digest matches")
	f.BoolVar(&mismatch, "mismatch", false, "only hooks whose digest does not match")
	return calls(cmd, "ListHooks")
}

func (a *app) integrityCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "integrity",
		Short: "List and acknowledge integrity violations nodes reported",
		Long: `plexd checks its own binary periodically and each hook before it runs it; a
mismatch is reported as an integrity violation. A node with an open
violation is drifted: dispatches skip it until an operator acknowledges
the violation (or passes --include-drifted).`,
		Example: `  plexctl integrity list --project 0190c0de-… --status open
  plexctl integrity ack 0190c0de-…-1111 --reason "hook updated in change CHG-42"`,
	})
	cmd.AddCommand(a.integrityListCommand(), a.integrityAckCommand())
	return cmd
}

func (a *app) integrityListCommand() *cobra.Command {
	var (
		pf     pageFlags
		filter apiclient.IntegrityFilter
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List integrity violations on the nodes you may read, oldest first",
		Example: `  plexctl integrity list --status open
  plexctl integrity list --project 0190c0de-… --node web-1 --kind hook -o json`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, violationColumns, func(c *apiclient.Client) apiclient.PageFunc[apiclient.IntegrityViolation] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiclient.IntegrityViolation], error) {
			return c.ListIntegrityViolations(ctx, filter, o)
		}
	})
	run := cmd.RunE
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if err := oneOf("--kind", filter.Kind, "binary", "hook", "host_key"); err != nil {
			return err
		}
		if err := oneOf("--status", filter.Status, "open", "acknowledged", "resolved"); err != nil {
			return err
		}
		if err := a.nodeFilter(cmd.Context(), &filter.NodeID, filter.ProjectID); err != nil {
			return err
		}
		return run(cmd, args)
	})
	f := cmd.Flags()
	f.StringVar(&filter.DomainID, "domain", "", "only this Domain id")
	f.StringVar(&filter.ProjectID, "project", "", "only this Project id")
	f.StringVar(&filter.NodeID, "node", "", "only this node (id or name)")
	f.StringVar(&filter.Kind, "kind", "", "only this kind: binary, hook or host_key")
	f.StringVar(&filter.Status, "status", "", "only this status: open, acknowledged or resolved")
	return calls(cmd, "ListIntegrityViolations")
}

// errAckStepUp explains a 401 step_up_required on acknowledge.
var errAckStepUp = errors.New("acknowledging an integrity violation is a step-up operation: your sign-in does not " +
	"meet the IdP binding's required acr/amr. Sign in again with a stronger method ('plexctl login') and retry")

func (a *app) integrityAckCommand() *cobra.Command {
	var reason string
	cmd := calls(&cobra.Command{
		Use:     "ack ID --reason TEXT",
		Aliases: []string{"acknowledge"},
		Short:   "Acknowledge an open violation with a reason: the node is scheduled again",
		Long: `Acknowledge an open integrity violation: say what was checked and why the
change is expected. Once a node has no open violation, dispatches run on it
again. The acknowledgement is audited with your identity and reason.

Acknowledging is a step-up operation: a sign-in without the IdP binding's
required acr/amr is refused with step_up_required.`,
		Example: `  plexctl integrity ack 0190c0de-…-1111 --reason "hook rotate-logs updated in change CHG-42"`,
		Args:    exactArgs("ID"),
	}, "AcknowledgeIntegrityViolation")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(reason) == "" {
			return usagef("--reason is required: what was checked and why the change is expected")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		v, err := c.AcknowledgeIntegrityViolation(cmd.Context(), args[0], reason)
		if apiclient.IsCode(err, "step_up_required") {
			msg := errAckStepUp.Error()
			if acr := challengeParam(errorChallenge(err), "acr_values"); acr != "" {
				msg += " (required acr: " + acr + ")"
			}
			return fmt.Errorf("%s\n  %s", msg, renderError(err))
		}
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(v)
		}
		return printFields(a, v, []field{
			{"ID", v.ID},
			{"Status", v.Status},
			{"Node", v.NodeID},
			{"Kind", v.Kind},
			{"Artifact", v.ArtifactID},
			{"Expected checksum", v.ExpectedChecksum},
			{"Actual checksum", v.ActualChecksum},
			{"Detected", ts(v.DetectedAt)},
			{"Acknowledged", tsp(v.AcknowledgedAt)},
			{"Acknowledged by", v.AcknowledgedBySubject},
			{"Reason", v.AcknowledgeReason},
		})
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why the change is expected (required)")
	return cmd
}

// errorChallenge is the WWW-Authenticate challenge of an API error.
func errorChallenge(err error) string {
	var e *apiclient.Error
	if errors.As(err, &e) {
		return e.Challenge
	}
	return ""
}
