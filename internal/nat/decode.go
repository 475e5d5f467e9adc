package nat

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// NAT types: the level-1 set (none, full_cone, symmetric, unknown) and the
// contract's (full_cone, restricted, port_restricted, symmetric, unknown).
const (
	natNone           = nodeproto.NATNone
	natFullCone       = nodeproto.NATFullCone
	natRestricted     = "restricted"
	natPortRestricted = "port_restricted"
	natSymmetric      = nodeproto.NATSymmetric
	natUnknown        = nodeproto.NATUnknown
)

// MaxCandidates bounds the candidates of one report.
const MaxCandidates = 16

// Problem codes of the endpoint report.
const (
	codeBodyTooLarge = "endpoint_body_too_large"
	codeClockSkew    = "endpoint_clock_skew"
	codeUnparseable  = "endpoint_unparseable"
	codePeerGone     = "endpoint_peer_gone"
)

// Report is a decoded, validated endpoint report.
type Report struct {
	Endpoint   string // canonical ip:port
	NATType    string
	ReportedAt time.Time // zero when the level-1 form omitted it
	Candidates []string  // canonical ip:port, deduplicated, without Endpoint
}

// wireReport is the union of the level-1 and contract forms.
type wireReport struct {
	PublicEndpoint string          `json:"public_endpoint"`
	Endpoint       string          `json:"endpoint"`
	NATType        string          `json:"nat_type"`
	ReportedAt     json.RawMessage `json:"reported_at"`
	Candidates     []string        `json:"candidates"`
}

// readBody returns the request body, inflating gzip (node-protocol §2.3),
// bounded by EndpointBodyLimit after decompression.
func readBody(raw []byte, encoding string) ([]byte, error) {
	enc := strings.TrimSpace(encoding)
	switch {
	case enc == "" || strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not valid gzip.")
		}
		raw, err = io.ReadAll(io.LimitReader(zr, EndpointBodyLimit+1))
		if err != nil {
			return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not valid gzip.")
		}
	default:
		return nil, problem.New(http.StatusUnsupportedMediaType, "unsupported_content_encoding",
			"Request bodies may be gzip or identity.")
	}
	if len(raw) > EndpointBodyLimit {
		return nil, problem.Newf(http.StatusRequestEntityTooLarge, codeBodyTooLarge,
			"An endpoint report is at most %d bytes.", EndpointBodyLimit)
	}
	return raw, nil
}

// DecodeReport decodes and validates an endpoint report body (at most
// EndpointBodyLimit bytes) received at now: either form, or both. Errors
// are problems: 413 endpoint_body_too_large, 400 endpoint_clock_skew,
// 400 endpoint_unparseable, 400 invalid_request.
func DecodeReport(body []byte, now time.Time) (Report, error) {
	if len(body) > EndpointBodyLimit {
		return Report{}, problem.Newf(http.StatusRequestEntityTooLarge, codeBodyTooLarge,
			"An endpoint report is at most %d bytes.", EndpointBodyLimit)
	}
	var w wireReport
	if err := json.Unmarshal(body, &w); err != nil {
		return Report{}, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not an endpoint report.")
	}
	ep, err := reportedEndpoint(w.Endpoint, w.PublicEndpoint)
	if err != nil {
		return Report{}, err
	}
	r := Report{Endpoint: ep, NATType: w.NATType}
	switch w.NATType {
	case natNone, natFullCone, natRestricted, natPortRestricted, natSymmetric, natUnknown:
	default:
		return Report{}, problem.BadRequest(nodeproto.CodeInvalidRequest,
			"nat_type is none, full_cone, restricted, port_restricted, symmetric or unknown.")
	}
	if r.ReportedAt, err = reportedAt(w.ReportedAt, now); err != nil {
		return Report{}, err
	}
	if r.Candidates, err = candidates(w.Candidates, ep); err != nil {
		return Report{}, err
	}
	return r, nil
}

// reportedEndpoint takes the contract's endpoint or the level-1
// public_endpoint; when both are sent they must agree.
func reportedEndpoint(contract, level1 string) (string, error) {
	raw := contract
	if raw == "" {
		raw = level1
	}
	ep, ok := canonicalEndpoint(raw)
	if !ok {
		return "", problem.BadRequest(codeUnparseable,
			"The endpoint is not ip:port with a public or private unicast address (loopback, link-local and unspecified are refused).")
	}
	if contract != "" && level1 != "" {
		if other, ok := canonicalEndpoint(level1); !ok || other != ep {
			return "", problem.BadRequest(codeUnparseable, "endpoint and public_endpoint disagree.")
		}
	}
	return ep, nil
}

// canonicalEndpoint parses "ip:port" (IPv6 bracketed) and refuses
// addresses that never name another node.
func canonicalEndpoint(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return "", false
	}
	a := ap.Addr()
	if a.Zone() != "" || a.IsLoopback() || a.IsUnspecified() || a.IsLinkLocalUnicast() || a.IsMulticast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || (a.Is4() && a.As4() == [4]byte{255, 255, 255, 255}) {
		return "", false
	}
	return netip.AddrPortFrom(a.Unmap(), ap.Port()).String(), true
}

// reportedAt parses the contract's reported_at and checks the skew; the
// level-1 form has none.
func reportedAt(raw json.RawMessage, now time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var t time.Time
	if err := json.Unmarshal(raw, &t); err != nil {
		return time.Time{}, problem.BadRequest(nodeproto.CodeInvalidRequest, "reported_at is not an RFC 3339 time.")
	}
	if d := t.Sub(now); d > MaxClockSkew || d < -MaxClockSkew {
		return time.Time{}, problem.BadRequest(codeClockSkew, "reported_at is more than 60 seconds from server time.")
	}
	return t.UTC(), nil
}

var errCandidate = errors.New("nat: bad candidate")

// candidates canonicalises the level-2 candidates: bounded, each a usable
// ip:port, duplicates and the endpoint itself dropped, order kept.
func candidates(in []string, endpoint string) ([]string, error) {
	if len(in) > MaxCandidates {
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "At most 16 candidates.")
	}
	seen := map[string]bool{endpoint: true}
	out := []string{}
	for _, c := range in {
		ep, ok := canonicalEndpoint(c)
		if !ok {
			return nil, problem.BadRequest(codeUnparseable, "A candidate is not a usable ip:port.").WithCause(errCandidate)
		}
		if !seen[ep] {
			seen[ep] = true
			out = append(out, ep)
		}
	}
	return out, nil
}
