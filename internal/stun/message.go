package stun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	pion "github.com/pion/stun/v3"
)

// MaxMessageSize bounds every datagram this package decodes. A Binding
// request or response is well under 200 bytes; anything larger is refused
// before the decoder sees it.
const MaxMessageSize = 548

const (
	headerSize  = 20
	magicCookie = 0x2112A442
)

// TxID is a STUN transaction id.
type TxID [pion.TransactionIDSize]byte

// Errors returned by ParseBindingResponse.
var (
	ErrNotSTUN       = errors.New("stun: not a STUN message")
	ErrTooLarge      = errors.New("stun: message too large")
	ErrNotBinding    = errors.New("stun: not a Binding success response")
	ErrNoMappedAddr  = errors.New("stun: response carries no mapped address")
	ErrBadMappedAddr = errors.New("stun: mapped address is not usable")
)

// IsSTUN reports whether b has the shape of a STUN message: at least a
// header, the two leading zero bits, the magic cookie and a length that is
// a multiple of four matching the datagram. It is cheap enough to
// demultiplex every datagram arriving on a shared socket.
func IsSTUN(b []byte) bool {
	if len(b) < headerSize || len(b) > MaxMessageSize {
		return false
	}
	if b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != magicCookie {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	return n%4 == 0 && headerSize+n == len(b)
}

// NewBindingRequest returns an encoded Binding request with a fresh random
// transaction id, and that id so the caller can match the answer.
func NewBindingRequest() ([]byte, TxID) {
	id := TxID(pion.NewTransactionID())
	m := pion.MustBuild(pion.BindingRequest, pion.NewTransactionIDSetter(id), pion.Fingerprint)
	return append([]byte(nil), m.Raw...), id
}

// ParseBindingResponse decodes a Binding success response and returns its
// transaction id and the mapped address (XOR-MAPPED-ADDRESS, or the legacy
// MAPPED-ADDRESS when a server sends only that).
func ParseBindingResponse(b []byte) (TxID, netip.AddrPort, error) {
	m, err := decode(b)
	if err != nil {
		return TxID{}, netip.AddrPort{}, err
	}
	id := TxID(m.TransactionID)
	if m.Type != pion.BindingSuccess {
		return id, netip.AddrPort{}, ErrNotBinding
	}
	ip, port, err := mappedAddress(m)
	if err != nil {
		return id, netip.AddrPort{}, err
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok || port == 0 || !addr.IsValid() || addr.IsUnspecified() {
		return id, netip.AddrPort{}, ErrBadMappedAddr
	}
	return id, netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

func mappedAddress(m *pion.Message) (net.IP, int, error) {
	var x pion.XORMappedAddress
	if err := x.GetFrom(m); err == nil {
		return x.IP, x.Port, nil
	}
	var ma pion.MappedAddress
	if err := ma.GetFrom(m); err == nil {
		return ma.IP, ma.Port, nil
	}
	return nil, 0, ErrNoMappedAddr
}

// decode bounds b and decodes it; fingerprints, when present, are checked.
func decode(b []byte) (*pion.Message, error) {
	if len(b) > MaxMessageSize {
		return nil, ErrTooLarge
	}
	if !IsSTUN(b) {
		return nil, ErrNotSTUN
	}
	m := pion.New()
	if err := pion.Decode(b, m); err != nil {
		return nil, fmt.Errorf("stun: decode: %w", err)
	}
	if m.Contains(pion.AttrFingerprint) {
		if err := pion.Fingerprint.Check(m); err != nil {
			return nil, fmt.Errorf("stun: fingerprint: %w", err)
		}
	}
	return m, nil
}

// Respond answers one datagram: when req is a well-formed Binding request
// it returns the encoded success response carrying from as
// XOR-MAPPED-ADDRESS (and a FINGERPRINT when the request had one);
// otherwise ok is false and the datagram is to be dropped silently.
func Respond(req []byte, from netip.AddrPort) (resp []byte, ok bool) {
	m, err := decode(req)
	if err != nil || m.Type != pion.BindingRequest || !from.IsValid() {
		return nil, false
	}
	setters := []pion.Setter{
		pion.BindingSuccess,
		pion.NewTransactionIDSetter(m.TransactionID),
		&pion.XORMappedAddress{IP: from.Addr().Unmap().AsSlice(), Port: int(from.Port())},
	}
	if m.Contains(pion.AttrFingerprint) {
		setters = append(setters, pion.Fingerprint)
	}
	out, err := pion.Build(setters...)
	if err != nil {
		return nil, false
	}
	return append([]byte(nil), out.Raw...), true
}
