package selector

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxIssues bounds how many problems one SyntaxError reports.
const maxIssues = 16

// Issue is one problem found in a selector expression.
type Issue struct {
	// Position is the byte offset into the expression; len(expr) means the
	// end of the expression.
	Position int    `json:"position"`
	Message  string `json:"message"`
}

// SyntaxError reports why an expression is not a valid selector. It carries
// one or more Issues, in order of position.
type SyntaxError struct {
	issues []Issue
}

// Issues returns every problem found, in order of position.
func (e *SyntaxError) Issues() []Issue { return slices.Clone(e.issues) }

func (e *SyntaxError) Error() string {
	first := e.issues[0]
	msg := "selector: position " + strconv.Itoa(first.Position) + ": " + first.Message
	if n := len(e.issues) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Parse parses a selector expression. An expression that is empty or only
// whitespace is the empty selector. Errors are of type *SyntaxError.
func Parse(expr string) (Selector, error) {
	if len(expr) > MaxLen {
		return Selector{}, &SyntaxError{[]Issue{{
			Position: MaxLen,
			Message:  fmt.Sprintf("selector is %d bytes; the limit is %d", len(expr), MaxLen),
		}}}
	}
	p := parser{toks: lex(expr)}
	reqs := p.parse()
	if len(p.issues) > 0 {
		return Selector{}, &SyntaxError{p.issues}
	}
	return Selector{reqs: reqs}, nil
}

// MustParse is Parse for selectors written in code; it panics on error.
func MustParse(expr string) Selector {
	s, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return s
}

type tokKind uint8

const (
	tEOF     tokKind = iota
	tWord            // [A-Za-z0-9._/-]+: a key, a value, "in" or "notin"
	tEq              // = or ==
	tNeq             // !=
	tBang            // !
	tLParen          // (
	tRParen          // )
	tComma           // ,
	tIllegal         // any other character
)

type token struct {
	kind tokKind
	pos  int
	text string
}

func isWordByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '/'
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// lex splits src into tokens; the last token is always tEOF at len(src).
func lex(src string) []token {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		start := i
		kind := tIllegal
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case isWordByte(c):
			for i < len(src) && isWordByte(src[i]) {
				i++
			}
			kind = tWord
		case c == '=':
			i++
			if i < len(src) && src[i] == '=' {
				i++
			}
			kind = tEq
		case c == '!':
			i++
			kind = tBang
			if i < len(src) && src[i] == '=' {
				i++
				kind = tNeq
			}
		case c == '(':
			i, kind = i+1, tLParen
		case c == ')':
			i, kind = i+1, tRParen
		case c == ',':
			i, kind = i+1, tComma
		default:
			_, size := utf8.DecodeRuneInString(src[i:])
			i += size
		}
		toks = append(toks, token{kind: kind, pos: start, text: src[start:i]})
	}
	return append(toks, token{kind: tEOF, pos: len(src)})
}

type parser struct {
	toks   []token
	i      int
	inList bool // inside the parentheses of an in/notin list
	issues []Issue
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// backup un-reads t if it is the comma that ends a clause, so that recovery
// after an error does not swallow the next clause.
func (p *parser) backup(t token) {
	if t.kind == tComma && !p.inList {
		p.i--
	}
}

func (p *parser) errorf(pos int, format string, args ...any) {
	if len(p.issues) < maxIssues {
		p.issues = append(p.issues, Issue{Position: pos, Message: fmt.Sprintf(format, args...)})
	}
}

// unexpected records that t is not what the grammar wants here.
func (p *parser) unexpected(t token, want string) {
	if t.kind == tIllegal {
		r, _ := utf8.DecodeRuneInString(t.text)
		if r == utf8.RuneError && len(t.text) == 1 {
			p.errorf(t.pos, "invalid UTF-8 byte %#02x", t.text[0])
			return
		}
		p.errorf(t.pos, "unexpected character %q", r)
		return
	}
	p.errorf(t.pos, "expected %s, found %s", want, describe(t))
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of selector"
	case tWord:
		if len(t.text) > 32 { // words are ASCII, so this cuts no rune
			return strconv.Quote(t.text[:32]) + "..."
		}
		return strconv.Quote(t.text)
	}
	return "'" + t.text + "'"
}

func (p *parser) parse() []Requirement {
	if p.peek().kind == tEOF {
		return nil
	}
	var reqs []Requirement
	for n := 1; ; n++ {
		if n > MaxClauses {
			p.errorf(p.peek().pos, "too many clauses; the limit is %d", MaxClauses)
			return nil
		}
		if r, ok := p.clause(); ok {
			reqs = append(reqs, r)
		} else {
			p.skipClause()
		}
		if p.next().kind == tEOF || len(p.issues) >= maxIssues {
			return reqs
		}
	}
}

// skipClause recovers from a structural error by skipping to the comma that
// ends the current clause (or to the end).
func (p *parser) skipClause() {
	depth := 0
	if p.inList {
		depth = 1
	}
	p.inList = false
	for {
		switch p.peek().kind {
		case tEOF:
			return
		case tComma:
			if depth == 0 {
				return
			}
		case tLParen:
			depth++
		case tRParen:
			depth = max(depth-1, 0)
		}
		p.next()
	}
}

// clause parses one clause. It returns ok == false after a structural error,
// leaving recovery to the caller; token-level problems (a bad key or value)
// are recorded without stopping.
func (p *parser) clause() (Requirement, bool) {
	t := p.next()
	switch t.kind {
	case tBang:
		k := p.next()
		if k.kind != tWord {
			p.unexpected(k, "key after '!'")
			p.backup(k)
			return Requirement{}, false
		}
		p.checkKey(k)
		return Requirement{Key: k.text, Op: OpAbsent}, p.end()
	case tWord:
	default:
		p.unexpected(t, "key or '!'")
		p.backup(t)
		return Requirement{}, false
	}
	p.checkKey(t)
	r := Requirement{Key: t.text}
	op := p.peek()
	switch {
	case op.kind == tComma || op.kind == tEOF:
		r.Op = OpExists
		return r, true
	case op.kind == tEq || op.kind == tNeq:
		p.next()
		r.Op = OpEq
		if op.kind == tNeq {
			r.Op = OpNeq
		}
		v := p.next()
		if v.kind != tWord {
			if v.kind == tComma || v.kind == tEOF {
				p.errorf(v.pos, "missing value after '%s' (values cannot be empty)", op.text)
			} else {
				p.unexpected(v, "value after '"+op.text+"'")
			}
			p.backup(v)
			return Requirement{}, false
		}
		p.checkValue(v)
		r.Values = []string{v.text}
		return r, p.end()
	case op.kind == tWord && (op.text == "in" || op.text == "notin"):
		p.next()
		r.Op = Op(op.text)
		vals, ok := p.list(op.text)
		if !ok {
			return Requirement{}, false
		}
		r.Values = vals
		return r, p.end()
	}
	p.unexpected(op, "'=', '!=', 'in', 'notin', ',' or end of selector")
	return Requirement{}, false
}

// end checks that the clause just parsed is followed by a comma or the end.
func (p *parser) end() bool {
	if t := p.peek(); t.kind != tComma && t.kind != tEOF {
		p.unexpected(t, "',' or end of selector")
		return false
	}
	return true
}

// list parses "(v1, v2, …)" after in/notin and returns the values sorted and
// deduplicated.
func (p *parser) list(op string) ([]string, bool) {
	if t := p.next(); t.kind != tLParen {
		p.unexpected(t, "'(' after '"+op+"'")
		return nil, false
	}
	p.inList = true
	var vals []string
	for {
		v := p.next()
		if v.kind != tWord {
			if v.kind == tRParen {
				p.inList = false
			}
			if v.kind == tRParen && len(vals) == 0 {
				p.errorf(v.pos, "empty value list after '%s'", op)
			} else {
				p.unexpected(v, "value")
			}
			return nil, false
		}
		if len(vals) == MaxValues {
			p.errorf(v.pos, "too many values in list; the limit is %d", MaxValues)
			return nil, false
		}
		p.checkValue(v)
		vals = append(vals, v.text)
		switch t := p.next(); t.kind {
		case tComma:
			continue
		case tRParen:
			p.inList = false
			slices.Sort(vals)
			return slices.Compact(vals), true
		default:
			p.unexpected(t, "',' or ')'")
			return nil, false
		}
	}
}

func (p *parser) checkKey(t token) {
	switch {
	case len(t.text) > MaxKeyLen:
		p.errorf(t.pos, "key is %d bytes; the limit is %d", len(t.text), MaxKeyLen)
	case !isAlnum(t.text[0]):
		p.errorf(t.pos, "key %q must start with a letter or digit", t.text)
	}
}

func (p *parser) checkValue(t token) {
	switch i := strings.IndexByte(t.text, '/'); {
	case len(t.text) > MaxValueLen:
		p.errorf(t.pos, "value is %d bytes; the limit is %d", len(t.text), MaxValueLen)
	case i >= 0:
		p.errorf(t.pos+i, "invalid character '/' in value %q", t.text)
	}
}
