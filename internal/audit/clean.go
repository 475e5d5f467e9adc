package audit

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Field limits, in bytes, for the strings an entry stores. Request-derived
// text (the user agent above all) is cut to them on a rune boundary.
const (
	MaxUserAgent = 256
	maxIP        = 128
	maxText      = 512
)

// Clean returns s as text every database stores faithfully: invalid UTF-8
// replaced by U+FFFD, NUL removed, and at most max bytes cut on a rune
// boundary (issue 7 row 5: a byte ≥ 0x80 or a rune split by a byte cut made
// PostgreSQL refuse the audit insert).
func Clean(s string, max int) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && len(s) <= max {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// clean makes every string of e storable and bounded, so that no request
// can make its own audit append fail.
func (e *Entry) clean() {
	for _, f := range []*string{&e.ChainID, &e.Action, &e.Outcome, &e.Reason, &e.Pseudonym, &e.IdentityRef,
		&e.Relation, &e.ObjectType, &e.ObjectID, &e.DecisionResult, &e.CorrelationID} {
		*f = Clean(*f, maxText)
	}
	e.IP = Clean(e.IP, maxIP)
	e.UserAgent = Clean(e.UserAgent, MaxUserAgent)
	for i, n := range e.CaveatNames {
		if c := Clean(n, maxText); c != n {
			names := slices.Clone(e.CaveatNames) // the caller's slice stays as it was
			names[i] = c
			for j := i + 1; j < len(names); j++ {
				names[j] = Clean(names[j], maxText)
			}
			e.CaveatNames = names
			return
		}
	}
}
