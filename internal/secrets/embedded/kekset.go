package embedded

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Errors of the key set, tested with errors.Is.
var (
	// ErrUnknownKEK: a data key is wrapped under a KEK id the set does not
	// hold, even after re-reading the file.
	ErrUnknownKEK = errors.New("embedded: data key wrapped under a KEK that is not in the key set")
	// ErrKEKBusy: another rotation or drop holds the KEK file's lock.
	ErrKEKBusy = errors.New("embedded: another KEK rotation or drop is running")
)

// refreshEvery bounds how often the set re-reads its file, for an unknown
// id and (separately) to find a new active key.
const refreshEvery = time.Second

// KEKSet holds the key-encryption keys: the active one wraps new data
// keys, every one unwraps. Keys from a file are re-read from it when an
// unknown id is asked for, so a key added by a rotation or another replica
// is found without a restart. Safe for concurrent use.
type KEKSet struct {
	path string // the key file; "" when the keys came from PLEXSPHERE_KEK
	now  func() time.Time

	// mu guards the keys and the file bookkeeping below.
	mu       sync.RWMutex
	keys     []kek       // keys[0] is active
	file     fs.FileInfo // the file as last read; nil for PLEXSPHERE_KEK
	lastMiss time.Time   // last re-read for an unknown id
	lastStat time.Time   // last check for a changed file before a wrap
}

// kek is one key, ready to seal and open.
type kek struct {
	id   string
	aead cipher.AEAD // AES-256-GCM, random nonce prefixed
}

// LoadKEKs loads the key set. env is the value of PLEXSPHERE_KEK: when
// not empty it wins (lines as in the file, or one bare base64 key) and the
// file is not used. Otherwise path is read, or created with one fresh key
// (0600, parent directory 0700) when missing; a file others may read is
// refused.
func LoadKEKs(path, env string) (*KEKSet, error) {
	if env != "" {
		lines, err := parseKEKs(env, EnvKEK, true)
		if err != nil {
			return nil, err
		}
		return newKEKSet("", lines, nil)
	}
	if path == "" {
		return nil, errors.New("embedded: LoadKEKs: a KEK file path is required when " + EnvKEK + " is not set")
	}
	text, fi, err := readKEKFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKEKFile(path); err != nil {
			return nil, fmt.Errorf("embedded: create KEK file: %w", err)
		}
		text, fi, err = readKEKFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: read KEK file: %w", err)
	}
	lines, err := parseKEKs(text, path, false)
	if err != nil {
		return nil, err
	}
	return newKEKSet(path, lines, fi)
}

// newKEKSet builds a set from parsed keys and zeroes their raw bytes.
func newKEKSet(path string, lines []keyLine, fi fs.FileInfo) (*KEKSet, error) {
	keys, err := keksOf(lines)
	if err != nil {
		return nil, err
	}
	return &KEKSet{path: path, now: time.Now, keys: keys, file: fi}, nil
}

// keksOf turns parsed keys into ciphers and zeroes their raw bytes.
func keksOf(lines []keyLine) ([]kek, error) {
	defer clearKeys(lines)
	keys := make([]kek, 0, len(lines))
	for _, l := range lines {
		block, err := aes.NewCipher(l.raw)
		if err != nil {
			return nil, fmt.Errorf("embedded: key %q: %w", l.id, err)
		}
		a, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("embedded: key %q: %w", l.id, err)
		}
		keys = append(keys, kek{id: l.id, aead: a})
	}
	return keys, nil
}

// ActiveID names the key that wraps new data keys.
func (s *KEKSet) ActiveID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[0].id
}

// IDs names every key, the active one first.
func (s *KEKSet) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.id
	}
	return ids
}

// active is the key to wrap under. A set from a file first notices (at
// most once a second) that the file changed and re-reads it, so a server
// moves to a rotated key without waiting to read a re-wrapped row.
func (s *KEKSet) active() kek {
	if s.path != "" {
		s.refreshIfChanged()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[0]
}

func (s *KEKSet) refreshIfChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.lastStat) < refreshEvery {
		return
	}
	s.lastStat = now
	fi, err := os.Stat(s.path)
	if err != nil || sameFile(fi, s.file) {
		return
	}
	// A file that no longer reads keeps the keys in memory; the read that
	// needs a new key reports why.
	_ = s.reloadLocked()
}

func sameFile(a, b fs.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// lookup returns the key named id without touching the file.
func (s *KEKSet) lookup(id string) (kek, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.findLocked(id)
}

func (s *KEKSet) findLocked(id string) (kek, bool) {
	for _, k := range s.keys {
		if k.id == id {
			return k, true
		}
	}
	return kek{}, false
}

// byID returns the key named id, re-reading the file (at most once a
// second) when the set does not hold it.
func (s *KEKSet) byID(id string) (kek, error) {
	if k, ok := s.lookup(id); ok {
		return k, nil
	}
	if s.path == "" {
		return kek{}, fmt.Errorf("%w: %q is not in %s", ErrUnknownKEK, id, EnvKEK)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.findLocked(id); ok { // another caller re-read meanwhile
		return k, nil
	}
	now := s.now()
	if !s.lastMiss.IsZero() && now.Sub(s.lastMiss) < refreshEvery {
		return kek{}, fmt.Errorf("%w: %q is not in %s (re-read less than a second ago)", ErrUnknownKEK, id, s.path)
	}
	s.lastMiss = now
	if err := s.reloadLocked(); err != nil {
		return kek{}, fmt.Errorf("%w: %q; re-reading the file: %v", ErrUnknownKEK, id, err)
	}
	if k, ok := s.findLocked(id); ok {
		return k, nil
	}
	return kek{}, fmt.Errorf("%w: %q is not in %s; restore it from a backup of the file", ErrUnknownKEK, id, s.path)
}

// reloadLocked re-reads the file: its keys replace the set's, in its
// order (so its first key becomes active); keys only held in memory stay
// behind them for unwrapping.
func (s *KEKSet) reloadLocked() error {
	text, fi, err := readKEKFile(s.path)
	if err != nil {
		return err
	}
	lines, err := parseKEKs(text, s.path, false)
	if err != nil {
		return err
	}
	keys, err := keksOf(lines)
	if err != nil {
		return err
	}
	for _, old := range s.keys {
		if !hasKEK(keys, old.id) {
			keys = append(keys, old)
		}
	}
	s.keys, s.file = keys, fi
	return nil
}

func hasKEK(keys []kek, id string) bool {
	for _, k := range keys {
		if k.id == id {
			return true
		}
	}
	return false
}
