package plexctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var policyColumns = []column[apiv1.NetworkPolicy]{
	{"ID", func(p apiv1.NetworkPolicy) string { return p.ID }},
	{"SLUG", func(p apiv1.NetworkPolicy) string { return p.Slug }},
	{"DISPLAY NAME", func(p apiv1.NetworkPolicy) string { return p.DisplayName }},
	{"HEAD", func(p apiv1.NetworkPolicy) string { return p.HeadRevisionID }},
	{"UPDATED", func(p apiv1.NetworkPolicy) string { return ts(p.UpdatedAt) }},
}

var revisionColumns = []column[apiv1.PolicyRevision]{
	{"ID", func(r apiv1.PolicyRevision) string { return r.ID }},
	{"PARENT", func(r apiv1.PolicyRevision) string { return r.ParentID }},
	{"RULES", func(r apiv1.PolicyRevision) string { return strconv.Itoa(len(r.Rules)) }},
	{"TESTS", func(r apiv1.PolicyRevision) string { return strconv.Itoa(len(r.Tests)) }},
	{"BY", func(r apiv1.PolicyRevision) string { return r.CreatedBy }},
	{"CREATED", func(r apiv1.PolicyRevision) string { return ts(r.CreatedAt) }},
}

var ruleColumns = []column[apiv1.NetworkPolicyRule]{
	{"ACTION", func(r apiv1.NetworkPolicyRule) string { return r.Action }},
	{"PROTOCOL", func(r apiv1.NetworkPolicyRule) string { return r.Protocol }},
	{"SOURCE", func(r apiv1.NetworkPolicyRule) string { return r.SourceCIDR }},
	{"DESTINATION", func(r apiv1.NetworkPolicyRule) string { return r.DestinationCIDR }},
	{"PORTS", func(r apiv1.NetworkPolicyRule) string { return ports(r.Ports) }},
	{"DESCRIPTION", func(r apiv1.NetworkPolicyRule) string { return r.Description }},
}

func ports(p *apiv1.PolicyPortRange) string {
	switch {
	case p == nil:
		return ""
	case p.From == p.To:
		return strconv.Itoa(p.From)
	}
	return fmt.Sprintf("%d-%d", p.From, p.To)
}

func (a *app) policyCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "policy",
		Aliases: []string{"policies"},
		Short:   "Manage network policies: L3/L4 rules between labelled nodes, with revisions and tests",
		Long: `Network policies govern traffic between a Domain's nodes: each policy selects
source and destination nodes by label and lists rules (allow, deny, log; tcp,
udp, icmp, any; CIDRs and ports). Every change lands an append-only revision.

POLICY is a policy id or its slug in --project. See docs/policy.md.`,
		Example: `  plexctl policy apply -f web-to-db.yaml --project 0190c0de-…
  plexctl policy list --project 0190c0de-…
  plexctl policy diff web-to-db --project 0190c0de-…`,
	})
	cmd.AddCommand(a.policyApplyCommand(), a.policyListCommand(), a.policyGetCommand(), a.policyRevisionsCommand(),
		a.policyDiffCommand(), a.policyTestCommand(), a.policyDeleteCommand(), a.policyDefaultCommand())
	return cmd
}

// projectFlag adds the required --project flag.
func projectFlag(cmd *cobra.Command, project *string) {
	cmd.Flags().StringVar(project, "project", "", "Project id (required)")
	_ = cmd.MarkFlagRequired("project")
}

// uuidRE is the text form of a UUID: a policy reference of this shape is
// an id, anything else a slug (slugs start with a letter and have no
// five dash-separated hex groups).
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// findPolicy resolves a policy id or slug of the project.
func findPolicy(ctx context.Context, c *apiclient.Client, project, ref string) (*apiv1.NetworkPolicy, error) {
	if uuidRE.MatchString(ref) {
		p, err := c.GetPolicy(ctx, project, ref)
		var e *apiclient.Error
		if err == nil || !errors.As(err, &e) || e.Status != http.StatusNotFound {
			return p, err
		}
		// A slug may look like a UUID: try it as one.
	}
	p, err := policyBySlug(ctx, c, project, ref)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("no policy with slug %q in project %s", ref, project)
	}
	return c.GetPolicy(ctx, project, p.ID)
}

// policyBySlug lists the project's policies for slug; nil when none.
func policyBySlug(ctx context.Context, c *apiclient.Client, project, slug string) (*apiv1.NetworkPolicy, error) {
	fetch := func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.NetworkPolicy], error) {
		return c.ListPolicies(ctx, project, o)
	}
	for p, err := range apiclient.Items(ctx, apiclient.ListOptions{Limit: 200}, fetch) {
		if err != nil {
			return nil, err
		}
		if p.Slug == slug {
			return &p, nil
		}
	}
	return nil, nil
}

func (a *app) policyListCommand() *cobra.Command {
	var pf pageFlags
	var project string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List a Project's policies (by slug)",
		Example: `  plexctl policy list --project 0190c0de-…`,
		Args:    exactArgs(),
	}
	listCommand(a, cmd, &pf, policyColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.NetworkPolicy] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.NetworkPolicy], error) {
			return c.ListPolicies(ctx, project, o)
		}
	})
	projectFlag(cmd, &project)
	return calls(cmd, "ListPolicies")
}

func (a *app) policyGetCommand() *cobra.Command {
	var project, revision string
	cmd := &cobra.Command{
		Use:   "get POLICY",
		Short: "Show a policy with its head revision (or --revision)",
		Example: `  plexctl policy get web-to-db --project 0190c0de-…
  plexctl policy get web-to-db --project 0190c0de-… --revision 0190c0de-… -o yaml`,
		Args: exactArgs("POLICY"),
	}
	projectFlag(cmd, &project)
	cmd.Flags().StringVar(&revision, "revision", "", "show this revision instead of the head")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := findPolicy(cmd.Context(), c, project, args[0])
		if err != nil {
			return err
		}
		rev := p.Head
		if revision != "" {
			if rev, err = c.GetPolicyRevision(cmd.Context(), project, p.ID, revision); err != nil {
				return err
			}
			if a.flags.output != formatTable {
				return a.encode(rev)
			}
		} else if a.flags.output != formatTable {
			return a.encode(p)
		}
		if rev == nil {
			return errors.New("the server sent no head revision")
		}
		if err := printFields(a, p, []field{
			{"ID", p.ID}, {"Slug", p.Slug}, {"Display name", p.DisplayName},
			{"Revision", rev.ID}, {"Parent", rev.ParentID}, {"Author", rev.CreatedBy}, {"Created", ts(rev.CreatedAt)},
			{"Source", rev.Selector.Source}, {"Destination", rev.Selector.Destination},
			{"Tests", strconv.Itoa(len(rev.Tests))},
		}); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout)
		return writeTable(a.stdout, rev.Rules, ruleColumns)
	})
	return calls(cmd, "GetPolicy", "GetPolicyRevision")
}

func (a *app) policyRevisionsCommand() *cobra.Command {
	var pf pageFlags
	var project string
	cmd := &cobra.Command{
		Use:     "revisions POLICY",
		Short:   "List a policy's revisions, newest first",
		Example: `  plexctl policy revisions web-to-db --project 0190c0de-…`,
		Args:    exactArgs("POLICY"),
	}
	addPageFlags(cmd, &pf)
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := findPolicy(cmd.Context(), c, project, args[0])
		if err != nil {
			return err
		}
		l, err := fetchList(cmd.Context(), pf, func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.PolicyRevision], error) {
			return c.ListPolicyRevisions(ctx, project, p.ID, o)
		})
		if err != nil {
			return err
		}
		return printList(a, l, revisionColumns)
	})
	return calls(cmd, "ListPolicyRevisions")
}

func (a *app) policyDiffCommand() *cobra.Command {
	var project, from, to string
	cmd := &cobra.Command{
		Use:   "diff POLICY",
		Short: "Show what changed between two revisions (default: the head and its parent)",
		Long: `Show the rules added, removed and modified (same traffic, other action) between
two revisions. The comparison is canonical: reordering rules is no change.`,
		Example: `  plexctl policy diff web-to-db --project 0190c0de-…
  plexctl policy diff web-to-db --project 0190c0de-… --from 0190c0de-… --to 0190c0de-…`,
		Args: exactArgs("POLICY"),
	}
	projectFlag(cmd, &project)
	cmd.Flags().StringVar(&from, "from", "", "the older revision (default: the head's parent)")
	cmd.Flags().StringVar(&to, "to", "", "the newer revision (default: the head)")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := findPolicy(cmd.Context(), c, project, args[0])
		if err != nil {
			return err
		}
		if to == "" {
			to = p.HeadRevisionID
		}
		if from == "" {
			r, err := c.GetPolicyRevision(cmd.Context(), project, p.ID, to)
			if err != nil {
				return err
			}
			if r.ParentID == "" {
				return fmt.Errorf("revision %s is the policy's first; give --from", to)
			}
			from = r.ParentID
		}
		d, err := c.DiffPolicyRevisions(cmd.Context(), project, p.ID, from, to)
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(d)
		}
		writeDiff(a.stdout, *d)
		return nil
	})
	return calls(cmd, "DiffPolicyRevisions")
}

func (a *app) policyDeleteCommand() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "delete POLICY",
		Short:   "Delete a policy and its revisions (its nodes fall back to the Domain default)",
		Example: `  plexctl policy delete web-to-db --project 0190c0de-…`,
		Args:    exactArgs("POLICY"),
	}
	projectFlag(cmd, &project)
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := findPolicy(cmd.Context(), c, project, args[0])
		if err != nil {
			return err
		}
		if err := c.DeletePolicy(cmd.Context(), project, p.ID); err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(map[string]string{"id": p.ID, "slug": p.Slug, "status": "deleted"})
		}
		fmt.Fprintf(a.stdout, "Policy %s (%s) deleted.\n", p.Slug, p.ID)
		return nil
	})
	return calls(cmd, "DeletePolicy")
}

// ruleLine renders a rule on one line.
func ruleLine(r apiv1.NetworkPolicyRule) string {
	s := fmt.Sprintf("%s %s %s -> %s", r.Action, r.Protocol, r.SourceCIDR, r.DestinationCIDR)
	if r.Ports != nil {
		s += " port " + ports(r.Ports)
	}
	return sanitize(s, false)
}

// writeDiff renders a diff: + added, - removed, ~ modified.
func writeDiff(w io.Writer, d apiv1.PolicyDiff) {
	if d.SelectorChanged != nil {
		b, af := d.SelectorChanged.Before, d.SelectorChanged.After
		fmt.Fprintf(w, "~ selector: %s -> %s  =>  %s -> %s\n", sanitize(b.Source, false), sanitize(b.Destination, false),
			sanitize(af.Source, false), sanitize(af.Destination, false))
	}
	for _, r := range d.Removed {
		fmt.Fprintln(w, "- "+ruleLine(r))
	}
	for _, r := range d.Added {
		fmt.Fprintln(w, "+ "+ruleLine(r))
	}
	for _, m := range d.Modified {
		fmt.Fprintf(w, "~ %s (was %s)\n", ruleLine(m.After), m.Before.Action)
	}
	if len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Modified) == 0 && d.SelectorChanged == nil {
		fmt.Fprintln(w, "No change.")
	}
}

// diffEmpty reports whether d changes nothing.
func diffEmpty(d apiv1.PolicyDiff) bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Modified) == 0 && d.SelectorChanged == nil
}

// writeTestRuns renders test results and reports whether all passed.
func writeTestRuns(w io.Writer, runs []apiv1.PolicyTestRun) bool {
	ok := true
	for _, r := range runs {
		t := r.Test
		what := fmt.Sprintf("%s -> %s %s", t.From, t.To, t.Protocol)
		if t.Port != 0 {
			what += "/" + strconv.Itoa(t.Port)
		}
		if r.Passed {
			fmt.Fprintf(w, "PASS tests[%d] %s: %s\n", r.Index, sanitize(what, false), t.Expect)
			continue
		}
		ok = false
		fmt.Fprintf(w, "FAIL tests[%d] %s: want %s", r.Index, sanitize(what, false), t.Expect)
		if r.Message != "" {
			fmt.Fprintf(w, " (%s)", sanitize(r.Message, false))
		}
		fmt.Fprintln(w)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "     %s -> %s: %s\n", f.FromNodeID, f.ToNodeID, f.Got)
		}
	}
	return ok
}

// errTestsFailed is the failure of a run whose policy tests did not pass.
var errTestsFailed = errors.New("policy tests failed")
