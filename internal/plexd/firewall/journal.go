package firewall

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// JournalFile is the nftables backend's cleanup journal in plexd's data
// directory.
const JournalFile = "firewall-journal.json"

// journalEntry is the table plexd installed: written before the first
// install, removed when the table is removed. A journal found at start
// means a crashed run left its table behind.
type journalEntry struct {
	Table     string    `json:"table"`
	Family    string    `json:"family"`
	Interface string    `json:"interface"`
	PID       int       `json:"pid"`
	CreatedAt time.Time `json:"created_at"`
}

// journal persists journalEntry; a nil *journal (no data directory)
// records nothing.
type journal struct {
	path    string
	written bool
}

func newJournal(dataDir string) *journal {
	if dataDir == "" {
		return nil
	}
	return &journal{path: filepath.Join(dataDir, JournalFile)}
}

// load reads a journal left by an earlier run (nil when there is none
// or it is unreadable).
func (j *journal) load() (*journalEntry, error) {
	if j == nil {
		return nil, nil
	}
	raw, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("firewall: journal: %w", err)
	}
	var e journalEntry
	if err := json.Unmarshal(raw, &e); err != nil || e.Table == "" {
		return nil, nil
	}
	return &e, nil
}

// begin records the table about to be installed (once).
func (j *journal) begin(e journalEntry) error {
	if j == nil || j.written {
		return nil
	}
	e.PID, e.CreatedAt = os.Getpid(), time.Now().UTC()
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return fmt.Errorf("firewall: journal: %w", err)
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("firewall: journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("firewall: journal: %w", err)
	}
	j.written = true
	return nil
}

// finish removes the journal once the table is gone.
func (j *journal) finish() error {
	if j == nil {
		return nil
	}
	j.written = false
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("firewall: journal: %w", err)
	}
	return nil
}
