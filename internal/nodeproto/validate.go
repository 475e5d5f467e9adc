package nodeproto

import (
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is matched (errors.Is) by every *FieldError.
var ErrInvalid = errors.New("nodeproto: invalid value")

// FieldError names the member that breaks a rule of the spec. Field is a
// path such as "peers[2].allowed_ips[0]".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "nodeproto: " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

// within prefixes the field path of a nested FieldError.
func within(prefix string, err error) error {
	var fe *FieldError
	if err == nil || !errors.As(err, &fe) {
		return err
	}
	if fe.Field == "" {
		return &FieldError{Field: prefix, Reason: fe.Reason}
	}
	return &FieldError{Field: prefix + "." + fe.Field, Reason: fe.Reason}
}

func index(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

// idByte reports whether c is in the ID alphabet [A-Za-z0-9._-].
func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// ValidID reports whether s is an ID (§0): ^[A-Za-z0-9._-]{1,128}$ and
// neither "." nor "..". Node ids, event ids, session ids and secret keys are
// IDs; so is every path parameter the control plane issues (J5).
func ValidID(s string) bool {
	if len(s) < 1 || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidDataKey reports whether s may be a state data key (§9.3 S4): an ID
// that does not contain "..". Data keys become file names on nodes.
func ValidDataKey(s string) bool {
	return ValidID(s) && !strings.Contains(s, "..")
}

// ValidReportKey reports whether s is acceptable as a node-state report key
// as the local node API defines it (§12.8): not empty, not "." or "..", and
// without "/" or "\". The spec's rule is deliberately wider than an ID; use
// ValidDataKey where a key becomes a file name.
func ValidReportKey(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

// ValidEventType reports whether s matches ^[a-z0-9_]+$ (§7.1).
func ValidEventType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ParseKey32 decodes a Key32 (§0): standard base64 with padding of exactly
// 32 bytes, 44 characters ending in "=". Non-canonical encodings (non-zero
// trailing bits) are rejected.
func ParseKey32(s string) ([32]byte, error) {
	var k [32]byte
	if len(s) != 44 || s[43] != '=' || s[42] == '=' {
		return k, errors.New("not 44 characters of base64 ending in a single '='")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 {
		return k, errors.New("not standard base64 of 32 bytes")
	}
	copy(k[:], b)
	return k, nil
}

// ValidKey32 reports whether s is a Key32.
func ValidKey32(s string) bool {
	_, err := ParseKey32(s)
	return err == nil
}

// ValidWireGuardKey reports whether s is acceptable as a WireGuard public
// key or preshared key: a Key32 that is not all zero (§4.1).
func ValidWireGuardKey(s string) bool {
	k, err := ParseKey32(s)
	return err == nil && k != [32]byte{}
}

// ValidBootstrapToken reports whether s is a bootstrap token the control
// plane may issue and agents accept (§3.1): 1–512 characters of printable
// ASCII (0x20–0x7E) without leading or trailing spaces.
func ValidBootstrapToken(s string) bool {
	if len(s) < 1 || len(s) > 512 || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ValidMeshIP reports whether s is a bare dotted-quad IPv4 address in
// canonical form (§4.2): no prefix length, no IPv6, not 0.0.0.0.
func ValidMeshIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4() && !a.IsUnspecified() && a.String() == s
}

// ValidCIDR reports whether s is an IPv4 or IPv6 prefix in CIDR notation.
func ValidCIDR(s string) bool {
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// ValidPort reports whether p is a TCP/UDP port in 1–65535.
func ValidPort(p int) bool { return p >= 1 && p <= 65535 }

// parsePort parses a decimal port in 1–65535 without sign or leading zeros.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, ValidPort(n)
}

// splitHostPort splits "host:port" or "[ipv6]:port". It reports the host, the
// parsed address when the host is an IP literal, and whether the form is
// valid: a bracketed host must be an IPv6 literal, an IPv6 literal must be
// bracketed, zones are refused, and the port is 1–65535.
func splitHostPort(s string) (host string, addr netip.Addr, isIP, ok bool) {
	h, p, err := net.SplitHostPort(s)
	if err != nil || h == "" {
		return "", netip.Addr{}, false, false
	}
	if _, ok := parsePort(p); !ok {
		return "", netip.Addr{}, false, false
	}
	bracketed := strings.HasPrefix(s, "[")
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" || a.Is4() == bracketed || a.Is4In6() {
			return "", netip.Addr{}, false, false
		}
		return h, a, true, true
	}
	if bracketed || !validDNSName(h) {
		return "", netip.Addr{}, false, false
	}
	return h, netip.Addr{}, false, true
}

// validDNSName accepts a host name of dot-separated labels of letters,
// digits, '-' and '_' (1–63 each, no leading or trailing '-'), at most 253
// characters, whose last label is not all digits (that would be a malformed
// IPv4 address).
func validDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

// ValidHostPort reports whether s is "host:port" as the spec uses it for
// ingress targets and site-to-site endpoints (§12.6): host is a DNS name, an
// IPv4 literal or a bracketed IPv6 literal without zone; port is 1–65535
// written without sign or leading zeros.
func ValidHostPort(s string) bool {
	_, _, _, ok := splitHostPort(s)
	return ok
}

// ValidIPPort reports whether s is "ip:port" (§12.2, §12.6 relay sessions):
// like ValidHostPort but the host must be an IP literal, and not the
// unspecified address.
func ValidIPPort(s string) bool {
	_, a, isIP, ok := splitHostPort(s)
	return ok && isIP && !a.IsUnspecified()
}

// ValidPeerEndpoint reports whether s may be a Peer's endpoint (§5.1): ""
// (unknown), or a host:port where the peer was last reachable. Loopback and
// unspecified addresses are refused: they never name another node (api.md
// §3.6 "not loopback").
func ValidPeerEndpoint(s string) bool {
	if s == "" {
		return true
	}
	h, a, isIP, ok := splitHostPort(s)
	if !ok {
		return false
	}
	if isIP {
		return !a.IsLoopback() && !a.IsUnspecified()
	}
	return !strings.EqualFold(h, "localhost")
}

// ValidInterfaceName reports whether s is 1–15 of [A-Za-z0-9_-] (§12.6).
func ValidInterfaceName(s string) bool {
	if len(s) < 1 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// hostKeyFingerprint is OpenSSH's SHA-256 host-key fingerprint form.
var hostKeyFingerprint = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}=?$`)

// ValidHostKeyFingerprint reports whether s is SHA256:<base64 of 32 bytes>,
// padded or not (the contract's capability manifest and integrity reports).
func ValidHostKeyFingerprint(s string) bool { return hostKeyFingerprint.MatchString(s) }

// ValidChecksum reports whether s is a lowercase hex SHA-256 without prefix
// (§5.2, AC2).
func ValidChecksum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidDuration reports whether s is in Go duration syntax (§0).
func ValidDuration(s string) bool {
	_, err := time.ParseDuration(s)
	return err == nil
}

// ValidWireTime reports whether t may be emitted as a Time (§0, J2): UTC
// (zero offset) and a year in 0–9999, so that it renders as RFC 3339.
func ValidWireTime(t time.Time) bool {
	_, off := t.Zone()
	y := t.Year()
	return off == 0 && y >= 0 && y <= 9999
}
