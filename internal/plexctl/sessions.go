package plexctl

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var sessionColumns = []column[apiclient.Session]{
	{"ID", func(s apiclient.Session) string { return s.ID }},
	{"KIND", func(s apiclient.Session) string { return s.Kind }},
	{"STATUS", func(s apiclient.Session) string { return s.Status }},
	{"TARGET", func(s apiclient.Session) string { return targetText(s.Target) }},
	{"RESOURCE", func(s apiclient.Session) string { return s.ResourceID }},
	{"IDENTITY", func(s apiclient.Session) string { return s.IdentityID }},
	{"ISSUED", func(s apiclient.Session) string { return ts(s.IssuedAt) }},
	{"EXPIRES", func(s apiclient.Session) string { return ts(s.ExpiresAt) }},
}

func (a *app) sessionsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "sessions",
		Aliases: []string{"session"},
		Short:   "List, inspect, revoke, replay and open mediated access sessions",
		Long: `Mediated access sessions are issued by 'plexctl ssh', 'plexctl tcp' and
'plexctl kube credential'. These commands list them, show one, revoke one
(its live connections close within a second) and replay the recording of
an ssh session. 'sessions issue' issues an ssh session, with --terminal
one whose key the control plane holds, and 'sessions terminal' opens a
shell on the node through such a session.`,
		Example: `  plexctl sessions list --project 0190c0de-… --status active
  plexctl sessions revoke --project 0190c0de-… 0190c0de-…-5e55
  plexctl sessions play --project 0190c0de-… 0190c0de-…-5e55 --speed 4
  plexctl sessions terminal --project 0190c0de-… --resource 0190c0de-…-7e50 --user deploy`,
	})
	cmd.AddCommand(a.sessionsListCommand(), a.sessionsGetCommand(), a.sessionsRevokeCommand(),
		a.sessionsPlayCommand(), a.sessionsIssueCommand(), a.sessionsTerminalCommand())
	return cmd
}

func (a *app) sessionsListCommand() *cobra.Command {
	var (
		pf      pageFlags
		project string
		filter  apiclient.SessionFilter
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the sessions of a Project, in issuance order",
		Example: `  plexctl sessions list --project 0190c0de-…
  plexctl sessions list --project 0190c0de-… --status active --kind ssh -o json`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, sessionColumns, func(c *apiclient.Client) apiclient.PageFunc[apiclient.Session] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiclient.Session], error) {
			return c.ListSessions(ctx, project, filter, o)
		}
	})
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := oneOf("--status", filter.Status, "active", "revoked", "expired"); err != nil {
			return err
		}
		if err := oneOf("--kind", filter.Kind, apiclient.SessionKindSSH, apiclient.SessionKindK8s,
			apiclient.SessionKindTCP); err != nil {
			return err
		}
		return run(cmd, args)
	}
	addProjectFlag(cmd, &project)
	calls(cmd, "ListSessions")
	f := cmd.Flags()
	f.StringVar(&filter.Status, "status", "", "only sessions in this status: active, revoked or expired")
	f.StringVar(&filter.Kind, "kind", "", "only sessions of this kind: ssh, k8s or tcp")
	f.StringVar(&filter.IdentityID, "identity", "", "only sessions of this identity id")
	return cmd
}

// oneOf checks an optional enumerated flag value.
func oneOf(flag, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return usagef("invalid %s %q: use %s", flag, v, strings.Join(allowed, ", "))
}

func (a *app) sessionsGetCommand() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one session (never its token)",
		Example: `  plexctl sessions get --project 0190c0de-… 0190c0de-…-5e55 -o json`,
		Args:    exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		s, err := c.GetSession(cmd.Context(), project, args[0])
		if err != nil {
			return err
		}
		return printFields(a, s, sessionFields(s))
	})
	addProjectFlag(cmd, &project)
	return calls(cmd, "GetSession")
}

func sessionFields(s *apiclient.Session) []field {
	idle := ""
	if s.IdleTimeoutSeconds > 0 {
		idle = (time.Duration(s.IdleTimeoutSeconds) * time.Second).String()
	}
	return []field{
		{"ID", s.ID},
		{"Kind", s.Kind},
		{"Status", s.Status},
		{"Target", targetText(s.Target)},
		{"Allowed commands", allowedCommands(s.Target)},
		{"Project", s.ProjectID},
		{"Domain", s.DomainID},
		{"Resource", s.ResourceID},
		{"Node", s.NodeID},
		{"Identity", s.IdentityID},
		{"Recording", yesNo(s.HasRecording)},
		{"Terminal", yesNo(s.Terminal)},
		{"Issued", ts(s.IssuedAt)},
		{"Expires", ts(s.ExpiresAt)},
		{"Last active", ts(s.LastActiveAt)},
		{"Idle timeout", idle},
		{"Revoked", tsp(s.RevokedAt)},
		{"Revoke reason", s.RevokeReason},
	}
}

// targetText renders a target for a table: "user", "user [groups]",
// "host:port".
func targetText(t apiclient.SessionTarget) string {
	switch {
	case t.SSH != nil:
		return t.SSH.User
	case t.K8s != nil && len(t.K8s.ImpersonateGroups) > 0:
		return t.K8s.User + " [" + strings.Join(t.K8s.ImpersonateGroups, ", ") + "]"
	case t.K8s != nil:
		return t.K8s.User
	case t.TCP != nil:
		return net.JoinHostPort(t.TCP.Host, strconv.Itoa(t.TCP.Port))
	}
	return ""
}

func allowedCommands(t apiclient.SessionTarget) string {
	if t.SSH == nil {
		return ""
	}
	quoted := make([]string, len(t.SSH.AllowedCommands))
	for i, c := range t.SSH.AllowedCommands {
		quoted[i] = strconv.Quote(c)
	}
	return strings.Join(quoted, ", ")
}

func (a *app) sessionsRevokeCommand() *cobra.Command {
	var project, reason string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a session now: its node closes its connections",
		Long: `Revoke a session. The node denylists its token and closes its live
connections within a second; revoking a revoked session succeeds again.`,
		Example: `  plexctl sessions revoke --project 0190c0de-… 0190c0de-…-5e55
  plexctl sessions revoke --project 0190c0de-… 0190c0de-…-5e55 --reason identity_compromise`,
		Args: exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if !slices.Contains(apiclient.RevokeReasons, reason) {
			return usagef("invalid --reason %q: use %s", reason, strings.Join(apiclient.RevokeReasons, ", "))
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.RevokeSession(cmd.Context(), project, args[0], reason); err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(map[string]string{"id": args[0], "status": "revoked", "revoke_reason": reason})
		}
		fmt.Fprintf(a.stdout, "session %s revoked (%s)\n", args[0], reason)
		return nil
	})
	addProjectFlag(cmd, &project)
	cmd.Flags().StringVar(&reason, "reason", "operator_request", "why: "+strings.Join(apiclient.RevokeReasons, ", "))
	return calls(cmd, "RevokeSession")
}

func (a *app) sessionsPlayCommand() *cobra.Command {
	var (
		project, file string
		raw           bool
		po            playOptions
	)
	cmd := &cobra.Command{
		Use:   "play [ID]",
		Short: "Replay the recording of an ssh session in the terminal",
		Long: `Replay the recording of an ssh session (asciicast v2: the output the
session's terminal showed, with its timing; input is not recorded).

--speed plays faster (2: twice as fast), --idle-limit shortens long
pauses, --raw writes the recording file as it is (for asciinema or an
archive). --file plays a recording saved earlier instead of fetching one.`,
		Example: `  plexctl sessions play --project 0190c0de-… 0190c0de-…-5e55
  plexctl sessions play --project 0190c0de-… 0190c0de-…-5e55 --speed 4 --idle-limit 2s
  plexctl sessions play --project 0190c0de-… 0190c0de-…-5e55 --raw > session.cast
  plexctl sessions play --file session.cast`,
		Args: cobra.MaximumNArgs(1),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if po.speed <= 0 {
			return usagef("--speed must be positive")
		}
		data, err := a.recording(cmd.Context(), project, file, args)
		if err != nil {
			return err
		}
		if raw {
			_, err := a.stdout.Write(data)
			return err
		}
		return a.play(cmd.Context(), data, po)
	})
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "Project id (required with ID)")
	f.StringVar(&file, "file", "", "play this asciicast file instead of fetching a recording")
	f.BoolVar(&raw, "raw", false, "write the recording file as it is")
	f.Float64Var(&po.speed, "speed", 1, "playback speed factor")
	f.DurationVar(&po.idleLimit, "idle-limit", 0, "cap every pause at this long (0: keep the recorded timing)")
	return calls(cmd, "GetSessionRecording")
}

// recording fetches the recording of session args[0], or reads --file.
func (a *app) recording(ctx context.Context, project, file string, args []string) ([]byte, error) {
	switch {
	case file != "" && len(args) > 0:
		return nil, usagef("give a session ID or --file, not both")
	case file != "":
		return os.ReadFile(file)
	case len(args) == 0:
		return nil, usagef("expected a session ID (or --file)")
	case project == "":
		return nil, usagef("--project is required with a session ID")
	}
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	return c.GetRecording(ctx, project, args[0])
}
