package wg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// journalFile is the cleanup journal's name in the data directory.
const journalFile = "wireguard-journal.json"

// journalEntry is what plexd created on the host: written before the
// interface is created and whenever its routes change, removed on a clean
// shutdown. A journal found at start means a crashed run.
type journalEntry struct {
	Backend   string    `json:"backend"`
	Interface string    `json:"interface"`
	Socket    string    `json:"socket,omitempty"`
	Routes    []string  `json:"routes"`
	PID       int       `json:"pid"`
	CreatedAt time.Time `json:"created_at"`
}

// journal persists journalEntry. A nil *journal records nothing.
type journal struct {
	path string
	cur  *journalEntry
}

// tidy undoes what a crashed earlier run recorded: its interface (and the
// routes with it) and its UAPI socket. It refuses when that run's UAPI
// socket still answers: another plexd uses this data directory.
func (j *journal) tidy(log *slog.Logger) error {
	raw, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wg: journal: %w", err)
	}
	var e journalEntry
	if err := json.Unmarshal(raw, &e); err != nil || e.Interface == "" {
		log.LogAttrs(context.Background(), slog.LevelWarn, "wireguard journal unreadable; removing it")
		return os.Remove(j.path)
	}
	if e.Socket != "" {
		if c, err := net.DialTimeout("unix", e.Socket, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("wg: %s is in use by a running plexd (its socket %s answers)", e.Interface, e.Socket)
		}
		os.Remove(e.Socket)
	}
	if err := deleteLink(e.Interface); err != nil {
		return fmt.Errorf("wg: removing %s left by an earlier run: %w", e.Interface, err)
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "removed the mesh interface a crashed run left",
		slog.String(logkey.Interface, e.Interface), slog.String(logkey.Backend, e.Backend))
	return os.Remove(j.path)
}

// begin records the interface about to be created.
func (j *journal) begin(backend, iface, socket string) error {
	if j == nil {
		return nil
	}
	return j.write(&journalEntry{Backend: backend, Interface: iface, Socket: socket, Routes: []string{}, PID: os.Getpid(), CreatedAt: time.Now().UTC()})
}

// record updates the routes about to be installed.
func (j *journal) record(routes []netip.Prefix) error {
	if j == nil || j.cur == nil {
		return nil
	}
	rs := make([]string, len(routes))
	for i, r := range routes {
		rs[i] = r.String()
	}
	if slices.Equal(rs, j.cur.Routes) {
		return nil
	}
	e := *j.cur
	e.Routes = rs
	return j.write(&e)
}

func (j *journal) write(e *journalEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return fmt.Errorf("wg: journal: %w", err)
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("wg: journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("wg: journal: %w", err)
	}
	j.cur = e
	return nil
}

// finish removes the journal after a clean shutdown.
func (j *journal) finish() error {
	if j == nil {
		return nil
	}
	j.cur = nil
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("wg: journal: %w", err)
	}
	return nil
}
