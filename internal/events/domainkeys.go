package events

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/signing"
	"github.com/plexsphere/plexsphere/internal/store"
)

// KeyManager is the part of the signing context's key manager the event
// plane uses (signing.Local satisfies it).
type KeyManager interface {
	// ActiveKey returns the Domain's active key, reading through q.
	ActiveKey(ctx context.Context, q store.Querier, domainID string) (signing.Key, error)
	// PublicKeys lists the Domain's keys, newest first, with their status
	// at now.
	PublicKeys(ctx context.Context, domainID string) ([]signing.Key, error)
	// Signer opens a key that may still sign; signing.ErrKeyUnusable
	// otherwise.
	Signer(ctx context.Context, kid string) (envelope.KeySigner, error)
}

// signerTTL bounds how long an opened signer is reused without asking the
// key manager again; never beyond the key's own deadline.
const signerTTL = time.Second

// DomainKeys implements Keys over per-Domain keys with rotation (§8): an
// entry is signed with the key recorded at append while that key is active,
// or retiring before its deadline (K5), else with the Domain's active key.
// Opened signers are cached briefly so emission costs one Ed25519
// signature, not a key-manager round trip.
type DomainKeys struct {
	km  KeyManager
	now func() time.Time
	// refresh admits one key-manager lookup at a time, so the streams that
	// find an entry expired together cause one lookup, not one each.
	refresh sync.Mutex

	// mu guards cache.
	mu    sync.Mutex
	cache map[string]cachedSigner // by kid
}

type cachedSigner struct {
	signer envelope.KeySigner
	until  time.Time
}

// NewDomainKeys wraps km. now is the clock (time.Now when nil).
func NewDomainKeys(km KeyManager, now func() time.Time) *DomainKeys {
	if now == nil {
		now = time.Now
	}
	return &DomainKeys{km: km, now: now, cache: map[string]cachedSigner{}}
}

// CurrentKeyID implements Keys.
func (d *DomainKeys) CurrentKeyID(ctx context.Context, q store.Querier, domainID string) (string, error) {
	k, err := d.km.ActiveKey(ctx, q, domainID)
	if err != nil {
		return "", err
	}
	return k.KID, nil
}

// EmissionKey implements Keys.
func (d *DomainKeys) EmissionKey(ctx context.Context, domainID, kid string) (envelope.KeySigner, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.cache[kid]
	d.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.signer, nil
	}
	d.refresh.Lock()
	defer d.refresh.Unlock()
	d.mu.Lock()
	c, ok = d.cache[kid]
	d.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.signer, nil
	}
	keys, err := d.km.PublicKeys(ctx, domainID)
	if err != nil {
		return nil, fmt.Errorf("events: keys of domain %s: %w", domainID, err)
	}
	var active, recorded *signing.Key
	for i := range keys {
		k := &keys[i]
		if k.Status == signing.StatusActive && active == nil {
			active = k
		}
		if k.KID == kid && (k.Status == signing.StatusActive ||
			k.Status == signing.StatusRetiring && k.NotAfter != nil && now.Before(*k.NotAfter)) {
			recorded = k
		}
	}
	use := recorded
	if use == nil {
		use = active
	}
	if use == nil {
		return nil, fmt.Errorf("events: domain %s has no active signing key", domainID)
	}
	signer, err := d.km.Signer(ctx, use.KID)
	if err != nil {
		return nil, err
	}
	until := now.Add(signerTTL)
	if use.NotAfter != nil && use.NotAfter.Before(until) {
		until = *use.NotAfter
	}
	// A fallback to the active key is cached under the entry's key too:
	// should the active key rotate meanwhile, it is still retiring, and
	// verifiers accept it for at least an hour (K7).
	d.mu.Lock()
	d.cache[kid] = cachedSigner{signer: signer, until: until}
	d.mu.Unlock()
	return signer, nil
}

// WireKeys is the state member signing_keys of a Domain (§8, K1–K3): the
// active key, plus the retiring one and its deadline while it is in the
// future. It reads the key manager live, so state never lags a rotation.
func (d *DomainKeys) WireKeys(ctx context.Context, domainID string) (*nodeproto.SigningKeys, error) {
	keys, err := d.km.PublicKeys(ctx, domainID)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var sk nodeproto.SigningKeys
	for _, k := range keys {
		switch {
		case k.Status == signing.StatusActive && sk.Current == "":
			sk.Current = base64.StdEncoding.EncodeToString(k.Public)
		case k.Status == signing.StatusRetiring && sk.Previous == "" && k.NotAfter != nil && now.Before(*k.NotAfter):
			sk.Previous = base64.StdEncoding.EncodeToString(k.Public)
			sk.TransitionExpires = k.NotAfter.UTC()
		}
	}
	if sk.Current == "" {
		return nil, errors.New("events: no active signing key")
	}
	if err := sk.Validate(now); err != nil {
		return nil, err
	}
	return &sk, nil
}
