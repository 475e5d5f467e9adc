package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/plexsphere/plexsphere/internal/store"
)

// rewrapBatch is how many rows one re-wrap transaction updates.
const rewrapBatch = 500

// RotateResult is what a rotation did.
type RotateResult struct {
	// Active is the id of the active KEK (the new one after RotateKEK).
	Active string `json:"active_kek"`
	// Rewrapped counts the data keys moved under Active.
	Rewrapped int `json:"rewrapped"`
	// Unreadable counts rows whose data key did not open (a KEK missing
	// from the set, or the wrong key under its id); they are left as they
	// are and stay unreadable.
	Unreadable int `json:"unreadable"`
	// Remaining maps every other KEK id (of the set, or only named by
	// rows) to the rows still wrapped under it; 0 means the key is unused.
	Remaining map[string]int `json:"remaining"`
}

// RotateKEK makes a new KEK active without downtime: it puts a fresh key
// first in the file at path (atomic rename, mode 0600), then re-wraps the
// data key of every row under it (Rewrap); values are untouched. Running
// servers keep reading and writing throughout: one that meets the new id
// re-reads the file, and one about to write notices the changed file
// within a second. A write that a server still wrapped under the old key
// while this ran stays under it, and is counted in Remaining; a second
// run (or Rewrap alone) moves it. One rotation or drop runs at a time per
// file (ErrKEKBusy). progress, when not nil, is called after each batch.
func RotateKEK(ctx context.Context, db *store.DB, path string, progress func(done, total int)) (RotateResult, error) {
	unlock, err := lockKEKFile(path)
	if err != nil {
		return RotateResult{}, err
	}
	defer unlock()
	text, _, err := readKEKFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return RotateResult{}, fmt.Errorf("embedded: rotate: no KEK file at %s", path)
	}
	if err != nil {
		return RotateResult{}, fmt.Errorf("embedded: rotate: %w", err)
	}
	old, err := parseKEKs(text, path, false)
	if err != nil {
		return RotateResult{}, err
	}
	clearKeys(old)
	_, line := newKeyLine(old)
	if err := replaceKEKFile(path, withNewFirst(text, old, line)); err != nil {
		return RotateResult{}, fmt.Errorf("embedded: rotate: write %s: %w", path, err)
	}
	keks, err := LoadKEKs(path, "")
	if err != nil {
		return RotateResult{}, err
	}
	res, err := Rewrap(ctx, db, keks, progress)
	if err != nil {
		return res, fmt.Errorf("embedded: rotate: the new key %s is active; re-wrapping stopped, run the rotation again: %w", keks.ActiveID(), err)
	}
	return res, nil
}

// Rewrap moves the data key of every row not under the set's active KEK
// under it, in batches of 500 rows, each update conditioned on the row
// still holding the wrapped key that was read (a row deleted or rewritten
// meanwhile is left alone). Values are not re-encrypted.
func Rewrap(ctx context.Context, db *store.DB, keks *KEKSet, progress func(done, total int)) (RotateResult, error) {
	active := keks.active()
	res := RotateResult{Active: active.id}
	var total int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_values WHERE kek_id <> $1`, active.id).Scan(&total); err != nil {
		return res, fmt.Errorf("embedded: rewrap: count: %w", err)
	}
	var cur cursor
	done := 0
	for {
		batch, err := nextBatch(ctx, db, active.id, cur)
		if err != nil {
			return res, err
		}
		if len(batch) == 0 {
			break
		}
		n, bad, err := rewrapRows(ctx, db, keks, active, batch)
		if err != nil {
			return res, err
		}
		res.Rewrapped += n
		res.Unreadable += bad
		done += len(batch)
		total = max(total, done)
		if progress != nil {
			progress(done, total)
		}
		last := batch[len(batch)-1]
		cur = cursor{path: last.path, version: last.version, set: true}
	}
	remaining, err := remainingUnder(ctx, db, keks)
	res.Remaining = remaining
	return res, err
}

// cursor is the last (path, version) a re-wrap looked at.
type cursor struct {
	path    string
	version int64
	set     bool
}

// storedKey is one row's wrapped data key.
type storedKey struct {
	path    string
	version int64
	kekID   string
	wrapped string
}

// nextBatch reads the next rows after cur not under the active key.
func nextBatch(ctx context.Context, db *store.DB, activeID string, cur cursor) ([]storedKey, error) {
	q := `SELECT path, version, kek_id, wrapped_key FROM secret_values WHERE kek_id <> $1`
	args := []any{activeID}
	if cur.set {
		q += ` AND (path > $2 OR (path = $2 AND version > $3))`
		args = append(args, cur.path, cur.version)
	}
	rows, err := db.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY path, version LIMIT %d`, rewrapBatch), args...)
	if err != nil {
		return nil, fmt.Errorf("embedded: rewrap: read: %w", err)
	}
	defer rows.Close()
	var out []storedKey
	for rows.Next() {
		var k storedKey
		if err := rows.Scan(&k.path, &k.version, &k.kekID, &k.wrapped); err != nil {
			return nil, fmt.Errorf("embedded: rewrap: read: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded: rewrap: read: %w", err)
	}
	return out, nil
}

// rewrapRows re-wraps one batch in one transaction; it returns how many
// rows moved and how many did not open.
func rewrapRows(ctx context.Context, db *store.DB, keks *KEKSet, active kek, batch []storedKey) (moved, bad int, err error) {
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		moved, bad = 0, 0
		for _, r := range batch {
			old, ok := keks.lookup(r.kekID)
			if !ok {
				bad++
				continue
			}
			dek, err := unwrap(old, r.wrapped, r.path, r.version)
			if err != nil {
				bad++
				continue
			}
			w := wrap(active, dek, r.path, r.version)
			clear(dek)
			res, err := tx.ExecContext(ctx, `UPDATE secret_values SET kek_id = $1, wrapped_key = $2
				WHERE path = $3 AND version = $4 AND kek_id = $5 AND wrapped_key = $6`,
				active.id, w, r.path, r.version, r.kekID, r.wrapped)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				moved++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("embedded: rewrap: update: %w", err)
	}
	return moved, bad, nil
}

// remainingUnder counts the rows under each key but the active one: every
// older key of the set (0 when unused) and any id only rows name.
func remainingUnder(ctx context.Context, db *store.DB, keks *KEKSet) (map[string]int, error) {
	counts, err := rowsPerKEK(ctx, db)
	if err != nil {
		return nil, err
	}
	ids := keks.IDs()
	out := map[string]int{}
	for _, id := range ids[1:] {
		out[id] = counts[id]
	}
	for id, n := range counts {
		if !slices.Contains(ids, id) {
			out[id] = n
		}
	}
	return out, nil
}

// rowsPerKEK counts the rows wrapped under each KEK id.
func rowsPerKEK(ctx context.Context, db *store.DB) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT kek_id, COUNT(*) FROM secret_values GROUP BY kek_id`)
	if err != nil {
		return nil, fmt.Errorf("embedded: count rows per KEK: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			id string
			n  int
		)
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("embedded: count rows per KEK: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// DropUnusedKEKs removes from the file at path every key but the active
// one that no row is wrapped under any more, and returns their ids (none
// when every older key is still used). Run it once RotateKEK reports no
// rows left under the keys to drop, a few seconds after the rotation: a
// server wraps under the file's active key from at most a second after
// the file changed, but a write it began before that, committed after the
// count here, would stay under a dropped key (another RotateKEK run
// cannot move it then; the server that wrote it still holds the key).
func DropUnusedKEKs(ctx context.Context, db *store.DB, path string) ([]string, error) {
	unlock, err := lockKEKFile(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	text, _, err := readKEKFile(path)
	if err != nil {
		return nil, fmt.Errorf("embedded: drop unused KEKs: %w", err)
	}
	keys, err := parseKEKs(text, path, false)
	if err != nil {
		return nil, err
	}
	clearKeys(keys)
	counts, err := rowsPerKEK(ctx, db)
	if err != nil {
		return nil, err
	}
	var dropped []string
	drop := map[string]bool{}
	for _, k := range keys[1:] {
		if counts[k.id] == 0 {
			dropped = append(dropped, k.id)
			drop[k.id] = true
		}
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	if err := replaceKEKFile(path, without(text, keys, drop)); err != nil {
		return nil, fmt.Errorf("embedded: drop unused KEKs: write %s: %w", path, err)
	}
	return dropped, nil
}
