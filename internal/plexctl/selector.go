package plexctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func (a *app) labelsPreviewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "preview EXPR",
		Short: "Parse a label selector on the server and show its syntax tree",
		Long: `Parse a label selector with the server's parser. Clauses are key=value,
key!=value, key in (a, b), key (exists) and !key (absent); a comma means AND.
A selector with syntax errors prints them and exits with status 1.`,
		Example: `  plexctl labels preview 'platform/env=prod, tier in (web, api), !quarantined'
  plexctl labels preview 'env=' -o json`,
		Args: exactArgs("EXPR"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		p, err := c.PreviewSelector(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if a.flags.output != formatTable {
			err = a.encode(p)
		} else {
			err = writePreview(a.stdout, args[0], p)
		}
		if err != nil {
			return err
		}
		if n := len(p.Errors); n > 0 {
			return fmt.Errorf("selector has %d syntax error(s)", n)
		}
		return nil
	})
	return calls(cmd, "previewSelector")
}

// writePreview prints the AST as an indented tree, or each error under the
// expression with a caret at its position.
func writePreview(w io.Writer, expr string, p *apiv1.SelectorPreview) error {
	if len(p.Errors) > 0 {
		for _, e := range p.Errors {
			pos := min(max(e.Position, 0), len(expr))
			col := utf8.RuneCountInString(expr[:pos])
			_, err := fmt.Fprintf(w, "%s\n%s^ %d: %s\n", sanitize(expr, false), strings.Repeat(" ", col),
				e.Position, sanitize(e.Message, false))
			if err != nil {
				return err
			}
		}
		return nil
	}
	if p.AST == nil {
		_, err := fmt.Fprintln(w, "(empty selector)")
		return err
	}
	var b strings.Builder
	writeNode(&b, *p.AST, 0)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeNode(b *strings.Builder, n apiv1.SelectorNode, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(n.Op)
	if n.Key != "" {
		b.WriteString(" " + sanitize(n.Key, false))
	}
	if n.Value != nil {
		b.WriteString(" " + strconv.Quote(*n.Value))
	}
	if n.Values != nil {
		q := make([]string, len(n.Values))
		for i, v := range n.Values {
			q[i] = strconv.Quote(v)
		}
		b.WriteString(" (" + strings.Join(q, ", ") + ")")
	}
	b.WriteString("\n")
	for _, c := range n.Children {
		writeNode(b, c, depth+1)
	}
}
