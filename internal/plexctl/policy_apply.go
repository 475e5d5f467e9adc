package plexctl

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// applyResult is what `policy apply` did with one document (-o json/yaml).
type applyResult struct {
	Slug     string                      `json:"slug" yaml:"slug"`
	Action   string                      `json:"action" yaml:"action"` // created, updated, unchanged, would_create, would_update
	Policy   *apiv1.NetworkPolicy        `json:"policy,omitempty" yaml:"policy,omitempty"`
	Diff     *apiv1.PolicyDiff           `json:"diff,omitempty" yaml:"diff,omitempty"`
	DryRun   *apiv1.PolicyDryRunResponse `json:"dry_run,omitempty" yaml:"dry_run,omitempty"`
	TestsRun bool                        `json:"-" yaml:"-"`
}

func (a *app) policyApplyCommand() *cobra.Command {
	var project, file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update policies from a YAML file (by slug), showing the diff",
		Long: `Create or update the policies of FILE (YAML; several documents separated by
---), matched by slug in the Project. For an existing policy the change is
first evaluated (dry-run): the rule diff, the nodes whose compiled rules change
and the file's tests are shown; then a new revision is landed with
expected_revision_id set to the head that was evaluated, so a concurrent
change makes apply fail (409 revision_conflict) instead of overwriting it.

--dry-run stops after the evaluation. A failing test exits 1.

A document:

  project: 0190c0de-…            # or --project
  slug: web-to-db
  display_name: Web to database
  selector: {source: role=web, destination: role=db}
  rules:
    - {action: allow, protocol: tcp, source_cidr: 0.0.0.0/0, destination_cidr: 0.0.0.0/0, ports: {from: 5432, to: 5432}}
  tests:
    - {from: role=web, to: role=db, protocol: tcp, port: 5432, expect: allow}
    - {from: role=web, to: role=db, protocol: tcp, port: 22, expect: deny}`,
		Example: `  plexctl policy apply -f web-to-db.yaml --project 0190c0de-…
  plexctl policy apply -f web-to-db.yaml --dry-run
  cat policies.yaml | plexctl policy apply -f - -o json`,
		Args: exactArgs(),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "policy file (YAML); - reads stdin")
	cmd.Flags().StringVar(&project, "project", "", "Project id (default: each document's project)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the diff and test results; change nothing")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		docs, err := a.readPolicyFile(file)
		if err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		var results []applyResult
		failed := false
		for _, d := range docs {
			pid := project
			if pid == "" {
				pid = d.Project
			}
			if pid == "" {
				return usagef("policy %q: no project: give --project or project: in the file", d.Slug)
			}
			r, err := a.applyOne(cmd.Context(), c, pid, d, dryRun)
			if err != nil {
				return fmt.Errorf("policy %s: %w", d.Slug, err)
			}
			if r.DryRun != nil && slices.ContainsFunc(r.DryRun.TestResults, func(t apiv1.PolicyTestRun) bool { return !t.Passed }) {
				failed = true
			}
			results = append(results, r)
		}
		if a.flags.output != formatTable {
			if err := a.encode(results); err != nil {
				return err
			}
		}
		if failed {
			return errTestsFailed
		}
		return nil
	})
	return calls(cmd, "CreatePolicy", "UpdatePolicy", "DryRunPolicy")
}

// applyOne creates or updates one document's policy.
func (a *app) applyOne(ctx context.Context, c *apiclient.Client, project string, d policyDoc, dryRun bool) (applyResult, error) {
	res := applyResult{Slug: d.Slug}
	table := a.flags.output == formatTable
	found, err := policyBySlug(ctx, c, project, d.Slug)
	if err != nil {
		return res, err
	}
	if found == nil {
		diff := apiv1.PolicyDiff{Added: d.rules()}
		res.Diff = &diff
		if table {
			fmt.Fprintf(a.stdout, "policy %s: create (%d rules, %d tests)\n", sanitize(d.Slug, false), len(d.Rules), len(d.Tests))
			writeDiff(a.stdout, diff)
		}
		if dryRun {
			res.Action = "would_create"
			if table {
				fmt.Fprintln(a.stdout, "(dry run: not created; the server runs the tests on create)")
			}
			return res, nil
		}
		p, err := c.CreatePolicy(ctx, project, apiv1.PolicyCreateRequest{Slug: d.Slug, DisplayName: d.DisplayName,
			Selector: d.selector(), Rules: d.rules(), Tests: d.tests()})
		if err != nil {
			return res, err
		}
		res.Action, res.Policy = "created", p
		if table {
			fmt.Fprintf(a.stdout, "policy %s: created %s (revision %s)\n", sanitize(d.Slug, false), p.ID, p.HeadRevisionID)
		}
		return res, nil
	}
	p, err := c.GetPolicy(ctx, project, found.ID)
	if err != nil {
		return res, err
	}
	dr, err := c.DryRunPolicy(ctx, project, p.ID, apiv1.PolicyDryRunRequest{Selector: d.selector(), Rules: d.rules(),
		Tests: d.tests()})
	if err != nil {
		return res, err
	}
	res.DryRun, res.Diff = dr, &dr.RuleDiff
	unchanged := diffEmpty(dr.RuleDiff) && d.DisplayName == p.DisplayName && p.Head != nil &&
		slices.Equal(d.tests(), p.Head.Tests)
	if table {
		fmt.Fprintf(a.stdout, "policy %s (%s):\n", sanitize(d.Slug, false), p.ID)
		writeDiff(a.stdout, dr.RuleDiff)
		if d.DisplayName != p.DisplayName {
			fmt.Fprintf(a.stdout, "~ display_name: %q -> %q\n", sanitize(p.DisplayName, false), sanitize(d.DisplayName, false))
		}
		for _, n := range dr.NodeChanges {
			fmt.Fprintf(a.stdout, "  node %s: +%d -%d compiled rules\n", n.NodeID, len(n.Gained), len(n.Removed))
		}
		if dr.PeerPairsAffected > 0 {
			fmt.Fprintf(a.stdout, "  %d node pairs affected\n", dr.PeerPairsAffected)
		}
		writeTestRuns(a.stdout, dr.TestResults)
	}
	switch {
	case unchanged:
		res.Action, res.Policy = "unchanged", p
		if table {
			fmt.Fprintln(a.stdout, "unchanged")
		}
		return res, nil
	case dryRun:
		res.Action = "would_update"
		if table {
			fmt.Fprintln(a.stdout, "(dry run: not applied)")
		}
		return res, nil
	}
	upd := apiv1.PolicyUpdateRequest{Selector: ptrTo(d.selector()), Rules: d.rules(), ExpectedRevisionID: p.HeadRevisionID,
		Tests: d.tests()}
	if d.DisplayName != p.DisplayName {
		upd.DisplayName = ptrTo(d.DisplayName)
	}
	if upd.Tests == nil && p.Head != nil && len(p.Head.Tests) > 0 {
		upd.Tests = []apiv1.PolicyTest{} // the file has none: drop the head's
	}
	np, err := c.UpdatePolicy(ctx, project, p.ID, upd)
	if err != nil {
		return res, err
	}
	res.Action, res.Policy = "updated", np
	if table {
		fmt.Fprintf(a.stdout, "policy %s: updated (revision %s)\n", sanitize(d.Slug, false), np.HeadRevisionID)
	}
	return res, nil
}

func ptrTo[T any](v T) *T { return &v }

func (a *app) policyTestCommand() *cobra.Command {
	var project, file string
	cmd := &cobra.Command{
		Use:   "test [POLICY]",
		Short: "Run policy tests against the Domain's current nodes (a dry run)",
		Long: `Run the tests of FILE's policies (as they would be after apply), or of a
policy's head revision, against the Domain's nodes as they are now. Nothing is
changed. Exits 1 when a test fails.`,
		Example: `  plexctl policy test -f web-to-db.yaml --project 0190c0de-…
  plexctl policy test web-to-db --project 0190c0de-…`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "policy file (YAML); - reads stdin")
	cmd.Flags().StringVar(&project, "project", "", "Project id (default: each document's project)")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if (file == "") == (len(args) == 0) {
			return usagef("give either POLICY or -f FILE")
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		type job struct {
			project, ref string
			req          *apiv1.PolicyDryRunRequest
		}
		var jobs []job
		if file != "" {
			docs, err := a.readPolicyFile(file)
			if err != nil {
				return err
			}
			for _, d := range docs {
				pid := project
				if pid == "" {
					pid = d.Project
				}
				if pid == "" {
					return usagef("policy %q: no project: give --project or project: in the file", d.Slug)
				}
				jobs = append(jobs, job{pid, d.Slug, &apiv1.PolicyDryRunRequest{Selector: d.selector(), Rules: d.rules(), Tests: d.tests()}})
			}
		} else {
			if project == "" {
				return usagef("--project is required with POLICY")
			}
			jobs = append(jobs, job{project, args[0], nil})
		}
		var all []apiv1.PolicyTestRun
		ok := true
		for _, j := range jobs {
			p, err := findPolicy(cmd.Context(), c, j.project, j.ref)
			if err != nil {
				return fmt.Errorf("%w (tests of a new policy run when it is created: plexctl policy apply)", err)
			}
			req := j.req
			if req == nil {
				if p.Head == nil {
					return fmt.Errorf("policy %s: the server sent no head revision", p.Slug)
				}
				req = &apiv1.PolicyDryRunRequest{Selector: p.Head.Selector, Rules: p.Head.Rules, Tests: p.Head.Tests}
			}
			if len(req.Tests) == 0 {
				fmt.Fprintf(a.stderr, "policy %s has no tests\n", sanitize(p.Slug, false))
				continue
			}
			dr, err := c.DryRunPolicy(cmd.Context(), j.project, p.ID, *req)
			if err != nil {
				return err
			}
			all = append(all, dr.TestResults...)
			if a.flags.output == formatTable {
				fmt.Fprintf(a.stdout, "policy %s:\n", sanitize(p.Slug, false))
				ok = writeTestRuns(a.stdout, dr.TestResults) && ok
			} else {
				ok = !slices.ContainsFunc(dr.TestResults, func(t apiv1.PolicyTestRun) bool { return !t.Passed }) && ok
			}
		}
		if a.flags.output != formatTable {
			if all == nil {
				all = []apiv1.PolicyTestRun{}
			}
			if err := a.encode(all); err != nil {
				return err
			}
		}
		if !ok {
			return errTestsFailed
		}
		return nil
	})
	return calls(cmd, "DryRunPolicy")
}
