package plexctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// column is one table column over values of T.
type column[T any] struct {
	header string
	value  func(T) string
}

// field is one row of a key/value view.
type field struct {
	key, value string
}

// printList writes a list: the {items, next_cursor} envelope as JSON or
// YAML, or a table whose notes (more pages, empty reason) go to stderr.
func printList[T any](a *app, l *apiv1.List[T], cols []column[T]) error {
	if l.Items == nil {
		l.Items = []T{}
	}
	if a.flags.output != formatTable {
		return a.encode(l)
	}
	if err := writeTable(a.stdout, l.Items, cols); err != nil {
		return err
	}
	if l.EmptyReason != "" && len(l.Items) == 0 {
		fmt.Fprintf(a.stderr, "No items (%s).\n", l.EmptyReason)
	}
	if l.NextCursor != "" {
		fmt.Fprintf(a.stderr, "More results: repeat with --cursor %s\n", l.NextCursor)
	}
	return nil
}

// printItems writes a plain slice: a JSON/YAML array or a table.
func printItems[T any](a *app, items []T, cols []column[T]) error {
	if a.flags.output != formatTable {
		return a.encode(items)
	}
	return writeTable(a.stdout, items, cols)
}

// printObject writes one object: JSON/YAML, or a one-row table.
func printObject[T any](a *app, v T, cols []column[T]) error {
	if a.flags.output != formatTable {
		return a.encode(v)
	}
	return writeTable(a.stdout, []T{v}, cols)
}

// printFields writes one object: v as JSON/YAML, or fields as a key/value
// table.
func printFields(a *app, v any, fields []field) error {
	if a.flags.output != formatTable {
		return a.encode(v)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f.key, cell(f.value))
	}
	return tw.Flush()
}

func writeTable[T any](w io.Writer, items []T, cols []column[T]) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	row := make([]string, len(cols))
	for _, it := range items {
		for i, c := range cols {
			row[i] = cell(c.value(it))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// cell makes a server-provided value safe for one table cell: control
// characters (terminal escapes, tabs, newlines) are shown escaped, and an
// empty value is "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return sanitize(s, false)
}

// sanitize escapes control characters as \xNN (keeping newlines when
// asked), so that text from the server cannot drive the terminal.
func sanitize(s string, keepNewlines bool) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' && keepNewlines:
			b.WriteRune(r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// encode writes v as JSON or YAML, per -o.
func (a *app) encode(v any) error {
	if a.flags.output == formatYAML {
		return writeYAML(a.stdout, v)
	}
	return writeJSON(a.stdout, v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeYAML renders v with its JSON field names and order: v goes through
// JSON (which YAML parses as a document), then every node is switched to
// block style. Quoting is left to the encoder, which quotes the strings
// that would otherwise read as another type.
func writeYAML(w io.Writer, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(js, &doc); err != nil {
		return err
	}
	plain(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

// ts renders an instant for a table, in UTC to the second.
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// tsp renders an optional instant.
func tsp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ts(*t)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
