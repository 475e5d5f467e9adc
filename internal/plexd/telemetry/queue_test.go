package telemetry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func body(n int, tag string) []byte {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"r":"%s-%d"}`, tag, i)
	}
	return []byte("[" + strings.Join(recs, ",") + "]")
}

func TestQueuePersistsAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue")
	q, err := OpenQueue(QueueOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	q.Push(KindMetrics, 2, body(2, "m1"))
	q.Push(KindLogs, 1, body(1, "l1"))
	q.Push(KindMetrics, 3, body(3, "m2"))
	first, _ := q.Oldest(KindMetrics)
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("queue dir mode %v", st.Mode().Perm())
	}
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half a batch"), 0o600) // a crash mid-write
	os.WriteFile(filepath.Join(dir, "junk.txt"), []byte("x"), 0o600)

	q2, err := OpenQueue(QueueOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if st := q2.Stats(); st.Batches != 3 || st.Bytes != int64(len(body(2, "m1"))+len(body(1, "l1"))+len(body(3, "m2"))) {
		t.Fatalf("reopened stats %+v", st)
	}
	b, ok := q2.Oldest(KindMetrics)
	if !ok || b.Key != first.Key || b.Records != 2 || string(b.Body) != string(body(2, "m1")) {
		t.Fatalf("oldest after reopen %+v, want key %s (the Idempotency-Key survives restarts)", b, first.Key)
	}
	q2.Remove(b)
	if b, _ := q2.Oldest(KindMetrics); string(b.Body) != string(body(3, "m2")) {
		t.Fatalf("next %s", b.Body)
	}
	if l, _ := q2.Oldest(KindLogs); string(l.Body) != string(body(1, "l1")) {
		t.Fatalf("logs %s", l.Body)
	}
	// New batches go after the old ones.
	q2.Push(KindMetrics, 1, body(1, "m3"))
	q3, _ := OpenQueue(QueueOptions{Dir: dir})
	b, _ = q3.Oldest(KindMetrics)
	q3.Remove(b)
	if b, _ := q3.Oldest(KindMetrics); string(b.Body) != string(body(1, "m3")) {
		t.Fatalf("order after reopen: %s", b.Body)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") || e.Name() == "junk.txt" {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	dir := t.TempDir()
	one := int64(len(body(10, "b0")))
	q, _ := OpenQueue(QueueOptions{Dir: dir, MaxBytes: 3 * one})
	for i := range 5 {
		if err := q.Push(KindLogs, 10, body(10, fmt.Sprintf("b%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	st := q.Stats()
	if st.Batches != 3 || st.DroppedBatches != 2 || st.DroppedRecords != 20 || st.Bytes > 3*one {
		t.Fatalf("stats %+v", st)
	}
	if b, _ := q.Oldest(KindLogs); !strings.Contains(string(b.Body), "b2-0") {
		t.Fatalf("oldest kept is %s, want b2", b.Body)
	}
	// The count bound too, across kinds.
	q2, _ := OpenQueue(QueueOptions{Dir: t.TempDir(), MaxBatches: 2})
	q2.Push(KindAudit, 1, body(1, "a"))
	q2.Push(KindMetrics, 4, body(4, "m"))
	q2.Push(KindLogs, 2, body(2, "l"))
	if st := q2.Stats(); st.Batches != 2 || st.DroppedRecords != 1 {
		t.Fatalf("count bound %+v", st)
	}
	if _, ok := q2.Oldest(KindAudit); ok {
		t.Fatal("the oldest batch (audit) survived")
	}
	// A batch larger than the whole queue is dropped itself.
	q3, _ := OpenQueue(QueueOptions{Dir: t.TempDir(), MaxBytes: 10})
	q3.Push(KindLogs, 7, body(7, "big"))
	if st := q3.Stats(); st.Batches != 0 || st.DroppedRecords != 7 {
		t.Fatalf("oversize %+v", st)
	}
	// A smaller cap at reopen evicts at once.
	q4, _ := OpenQueue(QueueOptions{Dir: dir, MaxBytes: one})
	if st := q4.Stats(); st.Batches != 1 || st.DroppedBatches != 2 {
		t.Fatalf("reopen with a smaller cap %+v", st)
	}
}

func TestQueueSplit(t *testing.T) {
	q, _ := OpenQueue(QueueOptions{Dir: t.TempDir()})
	q.Push(KindLogs, 5, body(5, "x"))
	q.Push(KindLogs, 1, body(1, "later"))
	b, _ := q.Oldest(KindLogs)
	if ok, err := q.Split(b); !ok || err != nil {
		t.Fatalf("split %v %v", ok, err)
	}
	var halves []Batch
	for range 2 {
		h, _ := q.Oldest(KindLogs)
		halves = append(halves, h)
		q.Remove(h)
	}
	var r0, r1 []json.RawMessage
	json.Unmarshal(halves[0].Body, &r0)
	json.Unmarshal(halves[1].Body, &r1)
	if len(r0) != 2 || len(r1) != 3 || halves[0].Records != 2 || halves[1].Records != 3 ||
		halves[0].Key != b.Key+"a" || halves[1].Key != b.Key+"b" || !strings.Contains(string(halves[0].Body), "x-0") {
		t.Fatalf("halves %+v", halves)
	}
	if l, _ := q.Oldest(KindLogs); !strings.Contains(string(l.Body), "later") {
		t.Fatalf("after the halves: %s", l.Body)
	}
	one, _ := q.Oldest(KindLogs)
	if ok, _ := q.Split(one); ok {
		t.Fatal("a single record split")
	}
}
