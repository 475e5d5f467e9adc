package plexctl

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

var labelDefinitionColumns = []column[apiv1.LabelDefinition]{
	{"ID", func(d apiv1.LabelDefinition) string { return d.ID }},
	{"KEY", func(d apiv1.LabelDefinition) string { return d.QualifiedKey }},
	{"SCOPE", func(d apiv1.LabelDefinition) string { return d.Scope }},
	{"TYPE", func(d apiv1.LabelDefinition) string { return describeSchema(d.ValueSchema) }},
	{"KINDS", func(d apiv1.LabelDefinition) string { return strings.Join(d.ApplicableKinds, ",") }},
	{"CARDINALITY", func(d apiv1.LabelDefinition) string { return strconv.Itoa(d.Cardinality) }},
	{"IMMUTABLE", func(d apiv1.LabelDefinition) string { return yesNo(d.Immutable) }},
	{"ON DELETE", func(d apiv1.LabelDefinition) string { return d.OnDelete }},
}

var labelAssignmentColumns = []column[apiv1.LabelAssignment]{
	{"KEY", func(l apiv1.LabelAssignment) string { return l.QualifiedKey }},
	{"VALUE", func(l apiv1.LabelAssignment) string { return l.Value }},
	{"DEFINITION", func(l apiv1.LabelAssignment) string { return l.DefinitionID }},
	{"ASSIGNED BY", func(l apiv1.LabelAssignment) string { return l.AssignedBy }},
	{"ASSIGNED AT", func(l apiv1.LabelAssignment) string { return ts(l.AssignedAt) }},
}

// describeSchema is a one-cell summary of a value schema, e.g. enum(a|b).
func describeSchema(s apiv1.ValueSchema) string {
	switch s.Kind {
	case "enum":
		return "enum(" + strings.Join(s.Values, "|") + ")"
	case "regex":
		return "regex(" + s.Pattern + ")"
	case "numeric":
		lo, hi := "", ""
		if s.Min != nil {
			lo = strconv.FormatInt(*s.Min, 10)
		}
		if s.Max != nil {
			hi = strconv.FormatInt(*s.Max, 10)
		}
		if lo == "" && hi == "" {
			return "numeric"
		}
		return "numeric[" + lo + ".." + hi + "]"
	}
	return s.Kind
}

func (a *app) labelsCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:     "labels",
		Aliases: []string{"label"},
		Short:   "Manage label definitions, label assignments and selectors",
		Example: `  plexctl labels definitions list --scope platform
  plexctl labels assign resource/0190c0de-… --definition 0190… --value prod
  plexctl labels preview 'platform/env=prod, tier in (web, api)'`,
	})
	defs := a.group(&cobra.Command{
		Use:     "definitions",
		Aliases: []string{"definition", "defs"},
		Short:   "Manage label definitions: keys and the values they accept",
		Example: `  plexctl labels definitions list --scope domain:0190c0de-…
  plexctl labels definitions create --scope platform --key env --type enum --values dev,prod`,
	})
	defs.AddCommand(a.labelDefsListCommand(), a.labelDefsGetCommand(), a.labelDefsCreateCommand(),
		a.labelDefsUpdateCommand(), a.labelDefsDeleteCommand())
	cmd.AddCommand(defs, a.labelsListCommand(), a.labelsAssignCommand(), a.labelsUnassignCommand(),
		a.labelsPreviewCommand())
	return cmd
}

func (a *app) labelDefsListCommand() *cobra.Command {
	var pf pageFlags
	var scope string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the label definitions of one scope",
		Example: `  plexctl labels definitions list
  plexctl labels definitions list --scope project:0190c0de-… -o json`,
		Args: exactArgs(),
	}
	listCommand(a, cmd, &pf, labelDefinitionColumns, func(c *apiclient.Client) apiclient.PageFunc[apiv1.LabelDefinition] {
		return func(ctx context.Context, o apiclient.ListOptions) (*apiv1.List[apiv1.LabelDefinition], error) {
			return c.ListLabelDefinitions(ctx, scope, o)
		}
	})
	cmd.Flags().StringVar(&scope, "scope", "platform", "platform, domain:<id> or project:<id>")
	return calls(cmd, "listLabelDefinitions")
}

func (a *app) labelDefsGetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get ID",
		Short:   "Show one label definition",
		Example: `  plexctl labels definitions get 0190c0de-… -o yaml`,
		Args:    exactArgs("ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		d, err := c.GetLabelDefinition(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printObject(a, *d, labelDefinitionColumns)
	})
	return calls(cmd, "getLabelDefinition")
}

// labelDefFlags are the flags of "labels definitions create" that do not
// map one to one onto the request.
type labelDefFlags struct {
	minV, maxV  int64
	maxLen, car int
}

func (a *app) labelDefsCreateCommand() *cobra.Command {
	var in apiv1.CreateLabelDefinition
	var lf labelDefFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a label definition",
		Example: `  plexctl labels definitions create --scope platform --key env --type enum --values dev,stage,prod
  plexctl labels definitions create --scope domain:0190c0de-… --key tier --applies-to resource,node
  plexctl labels definitions create --scope platform --key rack --type numeric --min 1 --max 64 --cardinality 0`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		changed := cmd.Flags().Changed
		in.ValueSchema.MaxLen = optional(changed("max-len"), lf.maxLen)
		in.ValueSchema.Min = optional(changed("min"), lf.minV)
		in.ValueSchema.Max = optional(changed("max"), lf.maxV)
		in.Cardinality = optional(changed("cardinality"), lf.car)
		c, err := a.client()
		if err != nil {
			return err
		}
		d, err := c.CreateLabelDefinition(cmd.Context(), in)
		if err != nil {
			return err
		}
		return printObject(a, *d, labelDefinitionColumns)
	})
	addLabelDefFlags(cmd, &in, &lf)
	return calls(cmd, "createLabelDefinition")
}

func addLabelDefFlags(cmd *cobra.Command, in *apiv1.CreateLabelDefinition, lf *labelDefFlags) {
	f := cmd.Flags()
	f.StringVar(&in.Scope, "scope", "", "platform, domain:<id> or project:<id> (required)")
	f.StringVar(&in.LocalKey, "key", "", "local key, [a-z0-9._-]{1,64} (required)")
	f.StringVar(&in.ValueSchema.Kind, "type", "string", "value type: string, enum, numeric, boolean or regex")
	f.StringSliceVar(&in.ValueSchema.Values, "values", nil, "allowed values (enum)")
	f.IntVar(&lf.maxLen, "max-len", 0, "maximum value length (string)")
	f.Int64Var(&lf.minV, "min", 0, "minimum (numeric)")
	f.Int64Var(&lf.maxV, "max", 0, "maximum (numeric)")
	f.StringVar(&in.ValueSchema.Pattern, "pattern", "", "RE2 pattern values must match (regex)")
	f.StringSliceVar(&in.ApplicableKinds, "applies-to", nil, "object kinds the label applies to, e.g. resource,node")
	f.StringVar(&in.Description, "description", "", "description")
	f.BoolVar(&in.Required, "required", false, "objects must carry the label")
	f.StringVar(&in.DefaultValue, "default", "", "default value")
	f.BoolVar(&in.Immutable, "immutable", false, "freeze schema and values once set")
	f.BoolVar(&in.CloudTagPropagation, "cloud-tag-propagation", false, "propagate as a cloud tag")
	f.StringVar(&in.OnDelete, "on-delete", "", "block, cascade or orphan")
	f.IntVar(&lf.car, "cardinality", 1, "values per object (0 = up to 64)")
	_ = cmd.MarkFlagRequired("scope")
	_ = cmd.MarkFlagRequired("key")
}

// objectRefPattern is KIND/ID with a lowercase kind (api.md §3.4).
var objectRefPattern = regexp.MustCompile(`^([a-z][a-z0-9_]*)/([^/\s]+)$`)

// parseObjectRef splits KIND/ID.
func parseObjectRef(ref string) (kind, id string, err error) {
	m := objectRefPattern.FindStringSubmatch(ref)
	if m == nil {
		return "", "", usagef("object %q: want KIND/ID, e.g. resource/0190c0de-…", ref)
	}
	return m[1], m[2], nil
}

func (a *app) labelsListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list KIND/ID",
		Short:   "List the labels on one object",
		Example: `  plexctl labels list resource/0190c0de-0000-7000-8000-000000000003`,
		Args:    exactArgs("KIND/ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		kind, id, err := parseObjectRef(args[0])
		if err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		items, err := c.ObjectLabels(cmd.Context(), kind, id)
		if err != nil {
			return err
		}
		return printList(a, &apiv1.List[apiv1.LabelAssignment]{Items: items}, labelAssignmentColumns)
	})
	return calls(cmd, "listObjectLabels")
}

func (a *app) labelsAssignCommand() *cobra.Command {
	var in apiv1.AssignLabel
	cmd := &cobra.Command{
		Use:     "assign KIND/ID",
		Short:   "Set a label on an object (replacing its value)",
		Example: `  plexctl labels assign resource/0190c0de-… --definition 0190c0de-… --value prod`,
		Args:    exactArgs("KIND/ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		kind, id, err := parseObjectRef(args[0])
		if err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := c.AssignLabel(cmd.Context(), kind, id, in)
		if err != nil {
			return err
		}
		return printObject(a, *l, labelAssignmentColumns)
	})
	cmd.Flags().StringVar(&in.DefinitionID, "definition", "", "label definition id (required)")
	cmd.Flags().StringVar(&in.Value, "value", "", "value (required)")
	_ = cmd.MarkFlagRequired("definition")
	_ = cmd.MarkFlagRequired("value")
	return calls(cmd, "assignLabel")
}

func (a *app) labelsUnassignCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "unassign KIND/ID QUALIFIED_KEY",
		Short:   "Remove a label from an object",
		Long:    "Remove a label from an object. Removing a label that is not set succeeds.",
		Example: `  plexctl labels unassign resource/0190c0de-… platform/env`,
		Args:    exactArgs("KIND/ID", "QUALIFIED_KEY"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		kind, id, err := parseObjectRef(args[0])
		if err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.UnassignLabel(cmd.Context(), kind, id, args[1]); err != nil {
			return err
		}
		if a.flags.output == formatTable {
			fmt.Fprintf(a.stdout, "label %q removed from %s\n", args[1], args[0])
		}
		return nil
	})
	return calls(cmd, "unassignLabel")
}
