package logs

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the LogQL subset.
const (
	MaxQueryLen  = 4096
	MaxRegexLen  = 512
	MaxMatchers  = 16
	MaxFilters   = 16
	MaxValueLen  = 1024
	StreamLogs   = "logs"
	StreamAudit  = "audit"
	labelStream  = "stream"
	labelNode    = "node_id"
	labelProject = "project_id"
)

// Match and filter operators.
const (
	OpEq       = "="
	OpNeq      = "!="
	OpRe       = "=~"
	OpNre      = "!~"
	OpContains = "|="
	OpRegex    = "|~"
)

// Labels per stream: the selectable labels and the column each reads.
var (
	logLabels   = []string{"node_id", "project_id", "hostname", "source", "unit", "severity"}
	auditLabels = []string{"node_id", "project_id", "hostname", "source", "action", "outcome"}
)

// Matcher is one label matcher of the stream selector.
type Matcher struct {
	Label, Op, Value string
	re               *regexp.Regexp
}

// Matches reports whether value satisfies the matcher (regexes are anchored
// at both ends, as in Prometheus and Loki).
func (m Matcher) Matches(v string) bool {
	switch m.Op {
	case OpEq:
		return v == m.Value
	case OpNeq:
		return v != m.Value
	case OpRe:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// Filter is one line filter (|= contains, != does not contain, |~ matches,
// !~ does not match; regexes unanchored).
type Filter struct {
	Op, Value string
	re        *regexp.Regexp
}

// Keep reports whether the line passes the filter.
func (f Filter) Keep(line string) bool {
	switch f.Op {
	case OpContains:
		return strings.Contains(line, f.Value)
	case OpNeq:
		return !strings.Contains(line, f.Value)
	case OpRegex:
		return f.re.MatchString(line)
	default:
		return !f.re.MatchString(line)
	}
}

// Query is a parsed LogQL subset expression: a stream selector and a chain
// of line filters. Stream is "logs" (node log lines) or "audit" (node audit
// events), chosen with the reserved label stream="audit".
type Query struct {
	Stream   string
	Matchers []Matcher
	Filters  []Filter
}

// SyntaxError is a LogQL parse error with its byte offset.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("LogQL: %s (at offset %d)", e.Msg, e.Pos) }

// ParseLogQL parses the documented subset:
//
//	query    = selector { filter }
//	selector = "{" [ matcher { "," matcher } [","] ] "}"
//	matcher  = label ( "=" | "!=" | "=~" | "!~" ) string
//	filter   = ( "|=" | "!=" | "|~" | "!~" ) string
//	string   = a Go/LogQL double-quoted string or a `raw` string
//
// Labels: node_id, project_id, hostname, source, unit, severity for logs;
// node_id, project_id, hostname, source, action, outcome for audit; stream
// ("logs" or "audit", "=" only) picks the table. Regexes are RE2, at most
// MaxRegexLen bytes.
func ParseLogQL(s string) (*Query, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &SyntaxError{0, "the query is empty"}
	}
	if len(s) > MaxQueryLen {
		return nil, &SyntaxError{MaxQueryLen, fmt.Sprintf("the query is longer than %d bytes", MaxQueryLen)}
	}
	if !utf8.ValidString(s) {
		return nil, &SyntaxError{0, "the query is not valid UTF-8"}
	}
	p := &parser{s: s}
	q := &Query{Stream: StreamLogs}
	p.space()
	n := 0 // matchers parsed, stream included
	if !p.eat("{") {
		return nil, p.err("expected a stream selector starting with '{'")
	}
	for {
		p.space()
		if p.eat("}") {
			break
		}
		if n > 0 {
			if !p.eat(",") {
				return nil, p.err("expected ',' or '}' in the stream selector")
			}
			p.space()
			if p.eat("}") {
				break
			}
		}
		if n == MaxMatchers {
			return nil, p.err(fmt.Sprintf("more than %d label matchers", MaxMatchers))
		}
		start := p.i
		label := p.ident()
		if label == "" {
			return nil, p.err("expected a label name")
		}
		p.space()
		op := p.op(OpRe, OpNre, OpNeq, OpEq)
		if op == "" {
			return nil, p.err("expected one of =, !=, =~, !~ after label " + strconv.Quote(label))
		}
		p.space()
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		m := Matcher{Label: label, Op: op, Value: v}
		n++
		if label == labelStream {
			if op != OpEq || (v != StreamLogs && v != StreamAudit) {
				return nil, &SyntaxError{start, `the stream label takes only stream="logs" or stream="audit"`}
			}
			q.Stream = v
			continue
		}
		if op == OpRe || op == OpNre {
			if m.re, err = compile(v, true); err != nil {
				return nil, &SyntaxError{start, err.Error()}
			}
		}
		q.Matchers = append(q.Matchers, m)
	}
	known := logLabels
	if q.Stream == StreamAudit {
		known = auditLabels
	}
	for _, m := range q.Matchers {
		if !slices.Contains(known, m.Label) {
			return nil, &SyntaxError{0, fmt.Sprintf("unknown label %q for the %s stream; known: %s, stream",
				m.Label, q.Stream, strings.Join(known, ", "))}
		}
	}
	for {
		p.space()
		if p.i == len(p.s) {
			break
		}
		if len(q.Filters) == MaxFilters {
			return nil, p.err(fmt.Sprintf("more than %d line filters", MaxFilters))
		}
		start := p.i
		op := p.op(OpContains, OpRegex, OpNeq, OpNre)
		if op == "" {
			if p.i < len(p.s) && p.s[p.i] == '|' {
				return nil, p.err("only the line filters |=, !=, |~ and !~ are supported (no parsers, label filters or formatting)")
			}
			return nil, p.err("expected a line filter (|=, !=, |~, !~)")
		}
		p.space()
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		f := Filter{Op: op, Value: v}
		if op == OpRegex || op == OpNre {
			if f.re, err = compile(v, false); err != nil {
				return nil, &SyntaxError{start, err.Error()}
			}
		}
		q.Filters = append(q.Filters, f)
	}
	return q, nil
}

// compile compiles an RE2 expression, anchored for label matchers.
func compile(v string, anchored bool) (*regexp.Regexp, error) {
	if len(v) > MaxRegexLen {
		return nil, fmt.Errorf("a regular expression is longer than %d bytes", MaxRegexLen)
	}
	if anchored {
		v = "^(?:" + v + ")$"
	}
	re, err := regexp.Compile(v)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %v", err)
	}
	return re, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) err(msg string) error { return &SyntaxError{p.i, msg} }

func (p *parser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *parser) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

// op consumes the first of ops that the input starts with.
func (p *parser) op(ops ...string) string {
	for _, o := range ops {
		if p.eat(o) {
			return o
		}
	}
	return ""
}

func (p *parser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.i > start && c >= '0' && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// str reads a double-quoted (Go escapes) or backquoted string.
func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '`') {
		return "", p.err("expected a quoted string")
	}
	q := p.s[p.i]
	start := p.i
	j := p.i + 1
	for j < len(p.s) && p.s[j] != q {
		if q == '"' && p.s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(p.s) {
		return "", &SyntaxError{start, "unterminated string"}
	}
	raw := p.s[start : j+1]
	p.i = j + 1
	var v string
	if q == '`' {
		v = raw[1 : len(raw)-1]
	} else {
		var err error
		if v, err = strconv.Unquote(raw); err != nil {
			return "", &SyntaxError{start, "invalid string " + raw}
		}
	}
	if len(v) > MaxValueLen {
		return "", &SyntaxError{start, fmt.Sprintf("a string is longer than %d bytes", MaxValueLen)}
	}
	return v, nil
}

// String renders the query back in LogQL (canonical form).
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("{")
	parts := []string{}
	if q.Stream == StreamAudit {
		parts = append(parts, `stream="audit"`)
	}
	for _, m := range q.Matchers {
		parts = append(parts, m.Label+m.Op+strconv.Quote(m.Value))
	}
	b.WriteString(strings.Join(parts, ", "))
	b.WriteString("}")
	for _, f := range q.Filters {
		b.WriteString(" " + f.Op + " " + strconv.Quote(f.Value))
	}
	return b.String()
}
