package mesh

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/store"
)

// wrapKeyVersion names the master key that wraps new PSK secrets. The
// keyring holds one master key today; a master-key rotation bumps it and
// rewraps rows of older versions.
const wrapKeyVersion = 1

// domainSecret is a Domain's mesh facts: its ULA /64 and its opened PSK
// secret.
type domainSecret struct {
	ipv6   netip.Prefix
	kid    string
	secret []byte
}

// ULAFor derives a Domain's IPv6 ULA /64 (RFC 4193): fd00::/8, a 40-bit
// global id from SHA-256 of the Domain id, subnet 0. Deterministic, so
// every replica and every restart agrees without coordination.
func ULAFor(domainID string) netip.Prefix {
	sum := sha256.Sum256([]byte("plexsphere mesh ula\x00" + domainID))
	var b [16]byte
	b[0] = 0xfd
	copy(b[1:6], sum[:5])
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// IPv6For is a node's ULA address: the Domain's /64 with the node's IPv4
// mesh address as its low 32 bits.
func IPv6For(ula netip.Prefix, v4 netip.Addr) netip.Addr {
	b := ula.Masked().Addr().As16()
	v := v4.As4()
	copy(b[12:], v[:])
	return netip.AddrFrom16(b)
}

func pskSealName(domainID, kid string) string { return "mesh-psk:" + domainID + ":" + kid }

// domain returns the Domain's mesh facts, creating its row (a fresh PSK
// secret, wrapped) on first use. Nothing is cached: a row created in a
// transaction that rolls back must not outlive it, and one read per
// operation is cheap next to its O(peers) work.
func (s *Service) domain(ctx context.Context, q store.Querier, domainID string) (domainSecret, error) {
	d, err := s.loadDomain(ctx, q, domainID)
	if errors.Is(err, sql.ErrNoRows) {
		if err = s.createDomain(ctx, q, domainID); err == nil {
			d, err = s.loadDomain(ctx, q, domainID)
		}
	}
	if err != nil {
		return domainSecret{}, fmt.Errorf("mesh: domain %s: %w", domainID, err)
	}
	return d, nil
}

func (s *Service) loadDomain(ctx context.Context, q store.Querier, domainID string) (domainSecret, error) {
	var cidr, kid, wrapped string
	var version int
	err := q.QueryRowContext(ctx, `SELECT ipv6_cidr, psk_kid, psk_wrapped, wrap_key_version FROM mesh_domains WHERE domain_id = $1`,
		domainID).Scan(&cidr, &kid, &wrapped, &version)
	if err != nil {
		return domainSecret{}, err
	}
	if version != wrapKeyVersion {
		return domainSecret{}, fmt.Errorf("PSK secret wrapped under master key version %d, this build has %d", version, wrapKeyVersion)
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return domainSecret{}, fmt.Errorf("ipv6_cidr: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(wrapped)
	if err != nil {
		return domainSecret{}, errors.New("PSK secret is not base64")
	}
	secret, err := s.cfg.Keyring.Open(pskSealName(domainID, kid), raw)
	if err != nil {
		return domainSecret{}, err
	}
	return domainSecret{ipv6: p, kid: kid, secret: secret}, nil
}

// createDomain stores a fresh wrapped secret unless a concurrent first use
// won (it then reads the winner's).
func (s *Service) createDomain(ctx context.Context, q store.Querier, domainID string) error {
	secret := make([]byte, 32)
	rand.Read(secret)
	kid := uuid.Must(uuid.NewV7()).String()
	wrapped := base64.StdEncoding.EncodeToString(s.cfg.Keyring.Seal(pskSealName(domainID, kid), secret))
	_, err := q.ExecContext(ctx, `INSERT INTO mesh_domains (domain_id, ipv6_cidr, psk_kid, psk_wrapped, wrap_key_version, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (domain_id) DO NOTHING`,
		domainID, ULAFor(domainID).String(), kid, wrapped, wrapKeyVersion, store.Micros(s.cfg.Now()))
	return err
}
