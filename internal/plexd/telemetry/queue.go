package telemetry

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Queue bounds (defaults of QueueOptions).
const (
	DefaultQueueBytes   = 64 << 20
	DefaultQueueBatches = 10000
)

// QueueOptions configures a Queue.
type QueueOptions struct {
	// Dir holds the batch files (created mode 0700). Required.
	Dir string
	// MaxBytes and MaxBatches bound the queue; a push beyond either drops
	// the oldest batches (of any kind) first.
	MaxBytes   int64
	MaxBatches int
}

// Batch is one queued batch: a JSON array of Records records of Kind,
// sent under Key (the Idempotency-Key, the same on every resend, also
// across restarts).
type Batch struct {
	Seq     uint64
	Kind    string
	Key     string
	Records int
	Body    []byte
}

// QueueStats are the queue's gauges and counters.
type QueueStats struct {
	Batches int   `json:"batches"`
	Bytes   int64 `json:"bytes"`
	// DroppedRecords and DroppedBatches count what the cap evicted (and
	// unreadable files) since start.
	DroppedRecords int64 `json:"dropped_records"`
	DroppedBatches int64 `json:"dropped_batches"`
}

// Queue is a bounded on-disk FIFO of batches, one file each:
// <seq>-<kind>-<key>-<records>.json, written to a temporary file, synced
// and renamed, so a batch is either whole or absent after a crash. It
// holds only telemetry records (never credentials: the sender adds those
// when it posts). Safe for concurrent use.
type Queue struct {
	opts QueueOptions

	// mu guards everything below.
	mu      sync.Mutex
	entries []qentry // sorted by (seq, key)
	bytes   int64
	next    uint64
	dropped QueueStats
}

type qentry struct {
	seq     uint64
	kind    string
	key     string
	records int
	size    int64
}

func (e qentry) name() string {
	return fmt.Sprintf("%020d-%s-%s-%d.json", e.seq, e.kind, e.key, e.records)
}

func compareEntries(a, b qentry) int {
	return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.key, b.key))
}

// OpenQueue opens (or creates) the queue in opts.Dir, indexing the
// batches a previous run left; temporary and unknown files are removed.
func OpenQueue(opts QueueOptions) (*Queue, error) {
	if opts.Dir == "" {
		return nil, errors.New("telemetry: QueueOptions.Dir is required")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultQueueBytes
	}
	if opts.MaxBatches <= 0 {
		opts.MaxBatches = DefaultQueueBatches
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("telemetry queue: %w", err)
	}
	des, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("telemetry queue: %w", err)
	}
	q := &Queue{opts: opts, next: 1}
	for _, de := range des {
		e, ok := parseEntryName(de.Name())
		info, err := de.Info()
		if !ok || err != nil || !info.Mode().IsRegular() {
			os.RemoveAll(filepath.Join(opts.Dir, de.Name()))
			continue
		}
		e.size = info.Size()
		q.entries = append(q.entries, e)
		q.bytes += e.size
		q.next = max(q.next, e.seq+1)
	}
	slices.SortFunc(q.entries, compareEntries)
	q.mu.Lock()
	q.evictLocked(0, 0)
	q.mu.Unlock()
	return q, nil
}

// parseEntryName reads <seq>-<kind>-<key>-<records>.json.
func parseEntryName(name string) (qentry, bool) {
	base, ok := strings.CutSuffix(name, ".json")
	parts := strings.Split(base, "-")
	if !ok || len(parts) != 4 || !slices.Contains(Kinds, parts[1]) || !validKey(parts[2]) {
		return qentry{}, false
	}
	seq, err1 := strconv.ParseUint(parts[0], 10, 64)
	n, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || n < 0 {
		return qentry{}, false
	}
	return qentry{seq: seq, kind: parts[1], key: parts[2], records: n}, true
}

// validKey: lowercase hex and the split suffixes a and b, ≤ 100 bytes.
func validKey(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if (k[i] < '0' || k[i] > '9') && (k[i] < 'a' || k[i] > 'f') {
			return false
		}
	}
	return true
}

// newKey is a fresh random batch key.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Push queues a batch of records records (body is their JSON array),
// dropping the oldest batches when the queue would exceed its bounds. A
// batch larger than the whole queue, or one that cannot be written, is
// dropped itself (and counted).
func (q *Queue) Push(kind string, records int, body []byte) error {
	if !slices.Contains(Kinds, kind) {
		return fmt.Errorf("telemetry queue: unknown kind %q", kind)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if int64(len(body)) > q.opts.MaxBytes {
		q.dropped.DroppedBatches++
		q.dropped.DroppedRecords += int64(records)
		return nil
	}
	e := qentry{seq: q.next, kind: kind, key: newKey(), records: records, size: int64(len(body))}
	q.next++
	q.evictLocked(1, e.size)
	if err := q.writeLocked(e, body); err != nil {
		q.dropped.DroppedBatches++
		q.dropped.DroppedRecords += int64(records)
		return err
	}
	q.entries = append(q.entries, e)
	q.bytes += e.size
	return nil
}

// writeLocked writes e's file durably: temporary file, fsync, rename,
// fsync of the directory.
func (q *Queue) writeLocked(e qentry, body []byte) error {
	tmp, err := os.CreateTemp(q.opts.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("telemetry queue: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(q.opts.Dir, e.name()))
	}
	if err != nil {
		return fmt.Errorf("telemetry queue: %w", err)
	}
	if d, err := os.Open(q.opts.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// evictLocked drops the oldest batches until n more batches of size
// bytes in all fit.
func (q *Queue) evictLocked(n int, size int64) {
	for len(q.entries) > 0 && (q.bytes+size > q.opts.MaxBytes || len(q.entries)+n > q.opts.MaxBatches) {
		e := q.entries[0]
		q.removeLocked(0)
		q.dropped.DroppedBatches++
		q.dropped.DroppedRecords += int64(e.records)
	}
}

func (q *Queue) removeLocked(i int) {
	e := q.entries[i]
	os.Remove(filepath.Join(q.opts.Dir, e.name()))
	q.entries = slices.Delete(q.entries, i, i+1)
	q.bytes -= e.size
}

// Oldest answers the oldest batch of kind, false when there is none. A
// batch file that cannot be read is dropped and counted.
func (q *Queue) Oldest(kind string) (Batch, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := 0; i < len(q.entries); {
		e := q.entries[i]
		if e.kind != kind {
			i++
			continue
		}
		body, err := os.ReadFile(filepath.Join(q.opts.Dir, e.name()))
		if err != nil || !json.Valid(body) {
			q.removeLocked(i)
			q.dropped.DroppedBatches++
			q.dropped.DroppedRecords += int64(e.records)
			continue
		}
		return Batch{Seq: e.seq, Kind: e.kind, Key: e.key, Records: e.records, Body: body}, true
	}
	return Batch{}, false
}

// Len answers how many batches of kind are queued ("" counts all).
func (q *Queue) Len(kind string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, e := range q.entries {
		if kind == "" || e.kind == kind {
			n++
		}
	}
	return n
}

// indexLocked finds b's entry, -1 when it is gone (evicted meanwhile).
func (q *Queue) indexLocked(b Batch) int {
	i, ok := slices.BinarySearchFunc(q.entries, qentry{seq: b.Seq, key: b.Key}, compareEntries)
	if !ok {
		return -1
	}
	return i
}

// Remove deletes a batch (sent, or refused for good); one evicted
// meanwhile is no error.
func (q *Queue) Remove(b Batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := q.indexLocked(b); i >= 0 {
		q.removeLocked(i)
	}
}

// Split replaces a batch of at least two records by its two halves, in
// order, under keys derived from its own (so a half's resends keep one
// key). It answers false when the batch cannot be split.
func (q *Queue) Split(b Batch) (bool, error) {
	var recs []json.RawMessage
	if b.Records < 2 || json.Unmarshal(b.Body, &recs) != nil || len(recs) < 2 || len(b.Key) >= 99 {
		return false, nil
	}
	half := len(recs) / 2
	parts := [2][]json.RawMessage{recs[:half], recs[half:]}
	q.mu.Lock()
	defer q.mu.Unlock()
	i := q.indexLocked(b)
	if i < 0 {
		return true, nil // evicted meanwhile: nothing left to split
	}
	var added []qentry
	for j, suffix := range []string{"a", "b"} {
		body, err := json.Marshal(parts[j])
		if err != nil {
			return false, err
		}
		e := qentry{seq: b.Seq, kind: b.Kind, key: b.Key + suffix, records: len(parts[j]), size: int64(len(body))}
		if err := q.writeLocked(e, body); err != nil {
			for _, a := range added {
				os.Remove(filepath.Join(q.opts.Dir, a.name()))
			}
			return false, err
		}
		added = append(added, e)
	}
	q.removeLocked(i)
	for _, e := range added {
		q.entries = append(q.entries, e)
		q.bytes += e.size
	}
	slices.SortFunc(q.entries, compareEntries)
	return true, nil
}

// Stats answers the queue's gauges and drop counters.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.dropped
	s.Batches, s.Bytes = len(q.entries), q.bytes
	return s
}
