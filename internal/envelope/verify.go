package envelope

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Key is a trusted Ed25519 public key. ID is optional; it only matches the
// level-2 key_id hint.
type Key struct {
	ID     string
	Public ed25519.PublicKey
}

// KeySet is what a verifier trusts (§8 SigningKeys): the current key and,
// until TransitionExpires, the previous one.
type KeySet struct {
	Current           Key
	Previous          Key // Public nil when there is none
	TransitionExpires time.Time
}

// Validate rejects a set that would break verification (K1): keys must be
// 32 bytes, and a previous key needs a transition deadline.
func (ks KeySet) Validate() error {
	if len(ks.Current.Public) != ed25519.PublicKeySize {
		return errors.New("envelope: current key is not 32 bytes")
	}
	if ks.Previous.Public == nil {
		return nil
	}
	if len(ks.Previous.Public) != ed25519.PublicKeySize {
		return errors.New("envelope: previous key is not 32 bytes")
	}
	if ks.TransitionExpires.IsZero() {
		return errors.New("envelope: previous key without transition deadline")
	}
	return nil
}

// KeySetFromWire converts the wire SigningKeys (registration key, state or
// signing_key_rotated) into a KeySet. Malformed input is an error, never a
// partial set (level 2: the caller keeps its keys).
func KeySetFromWire(sk nodeproto.SigningKeys) (KeySet, error) {
	cur, err := nodeproto.ParseKey32(sk.Current)
	if err != nil {
		return KeySet{}, fmt.Errorf("envelope: signing_keys.current: %w", err)
	}
	ks := KeySet{Current: Key{Public: ed25519.PublicKey(cur[:])}}
	if sk.Previous != "" {
		prev, err := nodeproto.ParseKey32(sk.Previous)
		if err != nil {
			return KeySet{}, fmt.Errorf("envelope: signing_keys.previous: %w", err)
		}
		ks.Previous = Key{Public: ed25519.PublicKey(prev[:])}
		ks.TransitionExpires = sk.TransitionExpires
	}
	return ks, ks.Validate()
}

// CheckSignature applies §7.4 steps 1 to 6 to e at now: required members,
// freshness, signature decoding, canonical bytes, and the signature against
// ks (current key, then previous before its deadline). It returns the key
// that verified. It keeps no state; Verifier adds the replay check.
func CheckSignature(e *Envelope, ks KeySet, now time.Time) (Key, error) {
	return checkSignature(e, payloadUnchecked, ks, now)
}

func checkSignature(e *Envelope, ps payloadState, ks KeySet, now time.Time) (Key, error) {
	switch {
	case e.EventType == "" || e.EventID == "":
		return Key{}, fmt.Errorf("%w: empty event_type or event_id", ErrMalformed)
	case e.Signature == "" || e.Nonce == "" || e.IssuedAt.IsZero():
		return Key{}, fmt.Errorf("%w: empty signature, nonce or issued_at", ErrMalformed)
	}
	// Compare instants, not a Duration: Sub saturates, and negating the
	// smallest Duration overflows.
	if e.IssuedAt.Before(now.Add(-FreshnessWindow)) {
		return Key{}, fmt.Errorf("%w: issued at %s", ErrStale, e.IssuedAt.Format(time.RFC3339Nano))
	}
	if e.IssuedAt.After(now.Add(FreshnessWindow)) {
		return Key{}, fmt.Errorf("%w: issued at %s", ErrFuture, e.IssuedAt.Format(time.RFC3339Nano))
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Key{}, fmt.Errorf("%w: signature is not base64 of 64 bytes", ErrMalformed)
	}
	msg, err := canonicalBytes(e.EventType, e.EventID, e.IssuedAt, e.Nonce, e.Payload, ps)
	if err != nil {
		return Key{}, err
	}
	return checkKeys(msg, sig, e.KeyID, ks, now)
}

// checkKeys is step 6. The key_id hint only orders the attempts (X6): a
// false hint can neither make an envelope verify nor stop a valid one.
func checkKeys(msg, sig []byte, hint string, ks KeySet, now time.Time) (Key, error) {
	prevLive := ks.Previous.Public != nil && now.Before(ks.TransitionExpires)
	tries := make([]Key, 0, 2)
	if len(ks.Current.Public) == ed25519.PublicKeySize {
		tries = append(tries, ks.Current)
	}
	if prevLive && len(ks.Previous.Public) == ed25519.PublicKeySize {
		if hint != "" && hint == ks.Previous.ID {
			tries = slices.Insert(tries, 0, ks.Previous)
		} else {
			tries = append(tries, ks.Previous)
		}
	}
	for _, k := range tries {
		if ed25519.Verify(k.Public, msg, sig) {
			return k, nil
		}
	}
	// Explain the failure; these checks never accept.
	if ks.Previous.Public != nil && !prevLive && len(ks.Previous.Public) == ed25519.PublicKeySize &&
		ed25519.Verify(ks.Previous.Public, msg, sig) {
		return Key{}, fmt.Errorf("%w: deadline %s", ErrKeyExpired, ks.TransitionExpires.Format(time.RFC3339))
	}
	if hint != "" && hint != ks.Current.ID && hint != ks.Previous.ID {
		return Key{}, fmt.Errorf("%w: key_id %q", ErrUnknownKey, hint)
	}
	return Key{}, ErrBadSignature
}

// DefaultMaxNonces bounds the replay cache when VerifierOptions.MaxNonces
// is zero: 65,536 nonces, about 4 MiB at most, far above the ~1 event per
// second a node sees.
const DefaultMaxNonces = 1 << 16

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	// Keys is the initial trusted set; Current is required.
	Keys KeySet
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxNonces bounds the replay cache; DefaultMaxNonces when zero.
	MaxNonces int
}

// Verifier checks envelopes as an agent must (§7.4). It is safe for
// concurrent use.
type Verifier struct {
	now    func() time.Time
	replay *replayCache

	// mu guards keys.
	mu   sync.RWMutex
	keys KeySet
}

// NewVerifier validates opts and fills defaults.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	if err := opts.Keys.Validate(); err != nil {
		return nil, fmt.Errorf("envelope: VerifierOptions.Keys: %w", err)
	}
	if opts.MaxNonces < 0 {
		return nil, errors.New("envelope: VerifierOptions.MaxNonces is negative")
	}
	v := &Verifier{now: opts.Now, replay: newReplayCache(opts.MaxNonces)}
	if err := v.SetKeys(opts.Keys); err != nil {
		return nil, err
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.replay.max == 0 {
		v.replay.max = DefaultMaxNonces
	}
	return v, nil
}

// SetKeys replaces the trusted keys. An invalid set is refused and the
// current keys stay (§8 level 2: input never breaks verification).
func (v *Verifier) SetKeys(ks KeySet) error {
	if err := ks.Validate(); err != nil {
		return err
	}
	ks.Current.Public = slices.Clone(ks.Current.Public)
	ks.Previous.Public = slices.Clone(ks.Previous.Public)
	v.mu.Lock()
	v.keys = ks
	v.mu.Unlock()
	return nil
}

// Keys returns the trusted keys.
func (v *Verifier) Keys() KeySet {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.keys
}

// Verify applies §7.4 steps 1 to 7 to e: CheckSignature, then, only for a
// valid signature, the nonce replay check. It returns the key that
// verified.
func (v *Verifier) Verify(e *Envelope) (Key, error) {
	return v.verify(e, payloadUnchecked)
}

func (v *Verifier) verify(e *Envelope, ps payloadState) (Key, error) {
	now := v.now()
	k, err := checkSignature(e, ps, v.Keys(), now)
	if err != nil {
		return Key{}, err
	}
	if err := v.replay.add(e.Nonce, e.IssuedAt, now); err != nil {
		return Key{}, err
	}
	return k, nil
}

// VerifyJSON parses data (step 1) and verifies it. It returns the
// envelope, whose Payload the caller dispatches on EventType (step 8).
func (v *Verifier) VerifyJSON(data []byte) (*Envelope, error) {
	e, err := Parse(data)
	if err != nil {
		return nil, err
	}
	// encoding/json validated the payload while decoding it.
	if _, err := v.verify(e, payloadValid); err != nil {
		return nil, err
	}
	return e, nil
}
