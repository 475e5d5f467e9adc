package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/clock"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// maxTailRead bounds one poll's read of a tailed file.
const maxTailRead = 4 << 20

// tailPosition is where a tail is: the file's inode, the offset of the
// first byte not yet read, and whether that byte is inside an over-long
// line being skipped.
type tailPosition struct {
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
	Skip   bool   `json:"skip,omitempty"`
}

// fileTail follows a log file of lines: new lines each poll, following
// rotation (another inode, or a shorter file, is read from its start),
// with the position kept in a state file.
type fileTail struct {
	path, positionPath string
	poll               time.Duration
	// waitForFile: a file missing at start is waited for (and read from
	// its start once it appears) rather than ErrUnavailable.
	waitForFile bool
	// what names the file in log lines.
	what string
	clk  clock.Clock
	log  *slog.Logger
	// line handles one complete line of at most MaxLineBytes; long is
	// called with the number of longer lines skipped by a poll.
	line func(line []byte)
	long func(n int)
}

// run tails until ctx ends. A missing file at start is ErrUnavailable
// unless waitForFile.
func (t *fileTail) run(ctx context.Context) error {
	st, err := os.Stat(t.path)
	if err != nil && !(t.waitForFile && errors.Is(err, fs.ErrNotExist)) {
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, t.path, err)
	}
	var pos tailPosition
	if err == nil {
		saved, ok := t.loadPosition()
		if ok && saved.Inode == inodeOf(st) {
			pos = saved
		} else {
			pos = tailPosition{Inode: inodeOf(st), Offset: st.Size()} // from now on
		}
	} // else: the file appears later and is read from its start
	for {
		next, err := t.pollOnce(pos)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.log.LogAttrs(ctx, slog.LevelWarn, "reading "+t.what+" failed", slog.String(logkey.Path, t.path), slog.String(logkey.Error, err.Error()))
		}
		if next != pos {
			pos = next
			t.savePosition(ctx, pos)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.clk.After(t.poll):
		}
	}
}

// pollOnce reads the complete lines after pos and answers the new position.
func (t *fileTail) pollOnce(pos tailPosition) (tailPosition, error) {
	f, err := os.Open(t.path)
	if err != nil {
		return pos, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return pos, err
	}
	if ino := inodeOf(st); ino != pos.Inode || st.Size() < pos.Offset {
		pos = tailPosition{Inode: ino} // rotated or truncated: from its start
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return pos, err
	}
	res, err := scanLines(io.LimitReader(f, maxTailRead), MaxLineBytes, pos.Skip, t.line)
	if res.long > 0 && t.long != nil {
		t.long(res.long)
	}
	if res.consumed > 0 {
		pos.Offset += res.consumed
		pos.Skip = res.skipping
	}
	return pos, err
}

func (t *fileTail) loadPosition() (tailPosition, bool) {
	if t.positionPath == "" {
		return tailPosition{}, false
	}
	raw, err := os.ReadFile(t.positionPath)
	var p tailPosition
	if err != nil || len(raw) > 1024 || json.Unmarshal(raw, &p) != nil || p.Offset < 0 {
		return tailPosition{}, false
	}
	return p, true
}

func (t *fileTail) savePosition(ctx context.Context, p tailPosition) {
	if t.positionPath == "" {
		return
	}
	raw, _ := json.Marshal(p)
	if err := writeState(t.positionPath, raw); err != nil {
		t.log.LogAttrs(ctx, slog.LevelWarn, "saving the "+t.what+" position failed", slog.String(logkey.Error, err.Error()))
	}
}

func inodeOf(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}
