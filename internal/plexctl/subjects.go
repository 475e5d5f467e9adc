package plexctl

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// authzLookupSubjectsCommand is "authz lookup-subjects": who holds a
// permission on an object, through groups and the hierarchy.
func (a *app) authzLookupSubjectsCommand() *cobra.Command {
	var in apiv1.AuthzLookupSubjects
	var caveatCtx string
	cmd := calls(&cobra.Command{
		Use:   "lookup-subjects",
		Short: "List the subjects of a type that hold a permission on a resource",
		Long: `List every subject of one type that holds a permission or relation on a
resource, directly, through group membership or through the Domain →
Project → object hierarchy. Needs auditor on the resource's Domain.`,
		Example: `  plexctl authz lookup-subjects --relation read --resource project:0190c0de-…
  plexctl authz lookup-subjects --type group#member --relation viewer --resource project:0190c0de-… -o json`,
		Args: exactArgs(),
	}, "lookupSubjects")
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		cc, err := readJSONObject("--caveat-context", caveatCtx)
		if err != nil {
			return err
		}
		in.CaveatContext = cc
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.LookupSubjects(cmd.Context(), in)
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			return a.encode(r)
		}
		if r.Truncated {
			fmt.Fprintln(a.stderr, "Warning: the list stops at the server's bound; ask about a narrower resource.")
		}
		return writeTable(a.stdout, r.Items, []column[string]{{"SUBJECT", func(s string) string { return s }}})
	})
	f := cmd.Flags()
	f.StringVar(&in.SubjectType, "type", "user", "subject type: user, service_identity or group#member")
	f.StringVar(&in.Relation, "relation", "", "permission or relation, e.g. read (required)")
	f.StringVar(&in.Resource, "resource", "", "resource, type:id or platform (required)")
	f.StringVar(&caveatCtx, "caveat-context", "", "caveat context as a JSON object, or @FILE")
	for _, name := range []string{"relation", "resource"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// tuplesPatchCommand is "tuples patch ID": replace a tuple in place.
func (a *app) tuplesPatchCommand() *cobra.Command {
	var in apiv1.PatchRelationTuple
	cmd := calls(&cobra.Command{
		Use:   "patch ID",
		Short: "Replace a relation tuple's subject, relation and resource, keeping its id",
		Long: `Replace a tuple in one step (the old grant ends as the new one starts).
The caller needs manage on the tuple's scope, and the replacement must be a
tuple the caller could write there.`,
		Example: `  plexctl tuples patch 0190c0de-0000-7000-8000-00000000000a --resource project:0190c0de-… --relation admin --subject user:0190…`,
		Args:    exactArgs("ID"),
	}, "patchRelationTuple")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		t, err := c.PatchRelationTuple(cmd.Context(), args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *t, tupleColumns)
	})
	f := cmd.Flags()
	f.StringVar(&in.Resource, "resource", "", "resource, type:id or platform (required)")
	f.StringVar(&in.Relation, "relation", "", "relation, e.g. viewer (required)")
	f.StringVar(&in.Subject, "subject", "", "subject, type:id or type:id#relation (required)")
	for _, name := range []string{"resource", "relation", "subject"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// labelDefsUpdateCommand is "labels definitions update ID": only the flags
// given change; a value-schema flag starts from the stored schema.
func (a *app) labelDefsUpdateCommand() *cobra.Command {
	var (
		in      apiv1.UpdateLabelDefinition
		vs      apiv1.ValueSchema
		lf      labelDefFlags
		desc    string
		def     string
		onDel   string
		kinds   []string
		req, tg bool
	)
	cmd := calls(&cobra.Command{
		Use:   "update ID",
		Short: "Change a label definition (widening only while assignments exist)",
		Long: `Change a label definition. Only the flags given change. Widening (more enum
values, a longer max length, more object kinds) always passes; a change
that would invalidate existing assignments is refused with their counts.
An immutable definition keeps its value schema.`,
		Example: `  plexctl labels definitions update 0190c0de-… --description "Deployment stage"
  plexctl labels definitions update 0190c0de-… --values dev,stage,prod,qa
  plexctl labels definitions update 0190c0de-… --on-delete cascade`,
		Args: exactArgs("ID"),
	}, "updateLabelDefinition")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		changed := cmd.Flags().Changed
		c, err := a.client()
		if err != nil {
			return err
		}
		if changed("type") || changed("values") || changed("max-len") || changed("min") || changed("max") || changed("pattern") {
			cur, err := c.GetLabelDefinition(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			s := cur.ValueSchema
			if changed("type") && vs.Kind != s.Kind {
				s = apiv1.ValueSchema{Kind: vs.Kind}
			}
			if changed("values") {
				s.Values = vs.Values
			}
			if changed("pattern") {
				s.Pattern = vs.Pattern
			}
			if changed("max-len") {
				s.MaxLen = &lf.maxLen
			}
			if changed("min") {
				s.Min = &lf.minV
			}
			if changed("max") {
				s.Max = &lf.maxV
			}
			in.ValueSchema = &s
		}
		in.Description = optional(changed("description"), desc)
		in.DefaultValue = optional(changed("default"), def)
		in.OnDelete = optional(changed("on-delete"), onDel)
		in.Required = optional(changed("required"), req)
		in.CloudTagPropagation = optional(changed("cloud-tag-propagation"), tg)
		if changed("applies-to") {
			in.ApplicableKinds = kinds
		}
		d, err := c.UpdateLabelDefinition(cmd.Context(), args[0], in)
		if err != nil {
			return err
		}
		return printObject(a, *d, labelDefinitionColumns)
	})
	f := cmd.Flags()
	f.StringVar(&vs.Kind, "type", "", "value type: string, enum, numeric, boolean or regex")
	f.StringSliceVar(&vs.Values, "values", nil, "allowed values (enum), the whole new list")
	f.IntVar(&lf.maxLen, "max-len", 0, "maximum value length (string)")
	f.Int64Var(&lf.minV, "min", 0, "minimum (numeric)")
	f.Int64Var(&lf.maxV, "max", 0, "maximum (numeric)")
	f.StringVar(&vs.Pattern, "pattern", "", "RE2 pattern values must match (regex)")
	f.StringSliceVar(&kinds, "applies-to", nil, "object kinds the label applies to, the whole new list")
	f.StringVar(&desc, "description", "", "description")
	f.BoolVar(&req, "required", false, "objects must carry the label")
	f.StringVar(&def, "default", "", "default value")
	f.BoolVar(&tg, "cloud-tag-propagation", false, "propagate as a cloud tag")
	f.StringVar(&onDel, "on-delete", "", "block, cascade or orphan")
	return cmd
}

// labelDefsDeleteCommand is "labels definitions delete ID".
func (a *app) labelDefsDeleteCommand() *cobra.Command {
	return a.deleteCommand(deleteSpec{use: "delete ID",
		short: "Delete a label definition; its assignments go as its on_delete says (block, cascade, orphan)",
		example: `  plexctl labels definitions delete 0190c0de-…
  plexctl labels definitions update 0190c0de-… --on-delete cascade && plexctl labels definitions delete 0190c0de-…`,
		kind: "label definition", done: "deleted", op: "deleteLabelDefinition",
		del: (*apiclient.Client).DeleteLabelDefinition})
}
