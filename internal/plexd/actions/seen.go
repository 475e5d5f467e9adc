package actions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// seenSet remembers the newest execution ids, persisted so a restart does
// not run a redelivered request again. Not safe for concurrent use (the
// executor's mu guards it).
type seenSet struct {
	path  string // "" keeps the set in memory
	max   int
	order []string // oldest first
	set   map[string]struct{}
}

// loadSeen reads dir/seen.json ("" dir: memory only). A damaged file
// starts empty rather than stopping plexd.
func loadSeen(dir string, limit int) (*seenSet, error) {
	s := &seenSet{max: limit, set: map[string]struct{}{}}
	if dir == "" {
		return s, nil
	}
	s.path = filepath.Join(dir, "seen.json")
	raw, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("seen execution ids: %w", err)
	}
	var ids []string
	if json.Unmarshal(raw, &ids) != nil {
		return s, nil
	}
	for _, id := range ids[max(len(ids)-limit, 0):] {
		if _, dup := s.set[id]; !dup {
			s.set[id] = struct{}{}
			s.order = append(s.order, id)
		}
	}
	return s, nil
}

func (s *seenSet) has(id string) bool {
	_, ok := s.set[id]
	return ok
}

// add remembers id, forgetting the oldest beyond max, and persists.
func (s *seenSet) add(id string) error {
	if s.has(id) {
		return nil
	}
	s.set[id] = struct{}{}
	s.order = append(s.order, id)
	if len(s.order) > s.max {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
	if s.path == "" {
		return nil
	}
	raw, err := json.Marshal(s.order)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, raw)
}

// writeFileAtomic replaces path with data (mode 0600).
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
