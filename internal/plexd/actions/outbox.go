package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Bounds of the undelivered results; the oldest are dropped beyond them.
const (
	maxQueued      = 128
	maxQueuedBytes = 32 << 20
)

// outbox holds the results not yet accepted by the control plane, one
// file each under dir so they survive a restart.
type outbox struct {
	dir  string        // "" keeps them in memory
	wake chan struct{} // a result was added; buffered 1

	// mu guards queue and bytes.
	mu    sync.Mutex
	queue []queued // oldest first
	bytes int
}

type queued struct {
	res  nodeproto.ExecutionResult
	size int
}

// loadOutbox reads the results left by an earlier run, oldest first.
// Unreadable files are removed.
func loadOutbox(stateDir string) (*outbox, error) {
	o := &outbox{wake: make(chan struct{}, 1)}
	if stateDir == "" {
		return o, nil
	}
	o.dir = filepath.Join(stateDir, "results")
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, err
	}
	for _, de := range entries {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		p := filepath.Join(o.dir, de.Name())
		raw, err := os.ReadFile(p)
		var res nodeproto.ExecutionResult
		if err != nil || json.Unmarshal(raw, &res) != nil || !nodeproto.ValidID(res.ExecutionID) {
			os.Remove(p)
			continue
		}
		o.queue = append(o.queue, queued{res: res, size: len(raw)})
		o.bytes += len(raw)
	}
	slices.SortStableFunc(o.queue, func(a, b queued) int { return a.res.FinishedAt.Compare(b.res.FinishedAt) })
	o.trimLocked()
	return o, nil
}

// add queues res (persisting it) and returns the ids dropped to make room.
func (o *outbox) add(res nodeproto.ExecutionResult) []string {
	raw, _ := json.Marshal(res)
	if o.dir != "" {
		// A failed write keeps the result in memory: it is still retried.
		writeFileAtomic(o.file(res.ExecutionID), raw)
	}
	o.mu.Lock()
	o.queue = append(o.queue, queued{res: res, size: len(raw)})
	o.bytes += len(raw)
	dropped := o.trimLocked()
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return dropped
}

// trimLocked drops the oldest results beyond the bounds (keeping the
// newest one even when it alone is larger).
func (o *outbox) trimLocked() []string {
	var dropped []string
	for len(o.queue) > 1 && (len(o.queue) > maxQueued || o.bytes > maxQueuedBytes) {
		q := o.queue[0]
		o.queue, o.bytes = o.queue[1:], o.bytes-q.size
		o.removeFile(q.res.ExecutionID)
		dropped = append(dropped, q.res.ExecutionID)
	}
	return dropped
}

func (o *outbox) head() (nodeproto.ExecutionResult, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return nodeproto.ExecutionResult{}, false
	}
	return o.queue[0].res, true
}

// done forgets the result of id.
func (o *outbox) done(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := slices.IndexFunc(o.queue, func(q queued) bool { return q.res.ExecutionID == id })
	if i < 0 {
		return
	}
	o.bytes -= o.queue[i].size
	o.queue = slices.Delete(o.queue, i, i+1)
	o.removeFile(id)
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

func (o *outbox) removeFile(id string) {
	if o.dir != "" {
		os.Remove(o.file(id))
	}
}

// file names a result by a hash of its id (ids may hold any ID byte).
func (o *outbox) file(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(o.dir, hex.EncodeToString(sum[:16])+".json")
}

// deliver posts the queued results in order until ctx ends, retrying a
// failure with a doubling backoff (or the answer's Retry-After) until the
// control plane answers 2xx. An answer that cannot change (a 4xx such as
// 409 execution_already_terminal) drops the result.
func (e *Executor) deliver(ctx context.Context) {
	wait := e.opts.RetryMin
	for {
		res, ok := e.out.head()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-e.out.wake:
			}
			continue
		}
		err := e.opts.ControlPlane.ExecutionResult(ctx, e.opts.NodeID, res.ExecutionID, res)
		switch {
		case err == nil:
			e.out.done(res.ExecutionID)
			wait = e.opts.RetryMin
			continue
		case ctx.Err() != nil:
			return
		case cpclient.Permanent(err):
			e.log.LogAttrs(ctx, slog.LevelWarn, "execution result refused; dropped", slog.String(keyExecutionID, res.ExecutionID),
				slog.String(logkey.Error, err.Error()))
			e.out.done(res.ExecutionID)
			continue
		}
		d := wait
		if ra := cpclient.RetryAfter(err); ra > 0 {
			d = min(ra, e.opts.RetryMax)
		}
		e.log.LogAttrs(ctx, slog.LevelWarn, "execution result not delivered; retrying", slog.String(keyExecutionID, res.ExecutionID),
			slog.Duration(logkey.RetryIn, d), slog.String(logkey.Error, err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(d):
		}
		wait = min(wait*2, e.opts.RetryMax)
	}
}
