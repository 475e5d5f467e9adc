package plexctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// exportFlags are the flags of "audit export".
type exportFlags struct {
	file    string
	fromSeq int64
	resume  bool
	force   bool
	every   int
}

// exportTarget is where the export goes and what it continues from.
type exportTarget struct {
	w     io.Writer
	file  *os.File // nil for stdout
	start int64    // first seq to ask for; 0 = the server default (1)
	prev  string   // entry_hash of the entry before start, when known
}

func (a *app) auditExportCommand(cf *chainFlags) *cobra.Command {
	var ef exportFlags
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Stream a chain as JSON Lines, to stdout or a file, resumably",
		Long: `Stream chain entries as JSON Lines (one entry per line, in seq order, exactly
as the server sent them) to stdout or --file. --resume continues a file after
the last entry already in it, dropping an incomplete last line left by an
interrupted run. While streaming, plexctl checks that seq numbers are
contiguous and that each prev_hash equals the entry_hash before it, across the
resume boundary too. Progress goes to stderr.`,
		Example: `  plexctl audit export --platform > platform-audit.jsonl
  plexctl audit export --domain 0190c0de-… --file audit.jsonl --from-seq 1000
  plexctl audit export --domain 0190c0de-… --file audit.jsonl --resume --progress-every 5000`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if err := cf.require(); err != nil {
			return err
		}
		if err := ef.validate(); err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		t, err := a.openExportTarget(ef)
		if err != nil {
			return err
		}
		return a.runExport(cmd, c, cf.chain(), t, ef)
	})
	f := cmd.Flags()
	f.StringVar(&ef.file, "file", "", "write to this file instead of stdout")
	f.Int64Var(&ef.fromSeq, "from-seq", 0, "first seq to export (default 1)")
	f.BoolVar(&ef.resume, "resume", false, "continue --file after its last entry")
	f.BoolVar(&ef.force, "force", false, "overwrite an existing --file")
	f.IntVar(&ef.every, "progress-every", 1000, "report progress on stderr every N entries (0: only at the end)")
	cmd.MarkFlagsMutuallyExclusive("resume", "from-seq")
	cmd.MarkFlagsMutuallyExclusive("resume", "force")
	return calls(cmd, "exportDomainAuditEntries", "exportPlatformAuditEntries")
}

func (ef exportFlags) validate() error {
	switch {
	case ef.resume && ef.file == "":
		return usagef("--resume needs --file")
	case ef.fromSeq < 0:
		return usagef("--from-seq must not be negative")
	case ef.every < 0:
		return usagef("--progress-every must not be negative")
	}
	return nil
}

// openExportTarget opens stdout, a new file, or a file to resume.
func (a *app) openExportTarget(ef exportFlags) (*exportTarget, error) {
	if ef.file == "" {
		return &exportTarget{w: a.stdout, start: ef.fromSeq}, nil
	}
	if ef.resume {
		return a.openResume(ef.file)
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if ef.force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(ef.file, mode, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: use --resume to continue it or --force to overwrite it", ef.file)
	}
	if err != nil {
		return nil, err
	}
	return &exportTarget{w: f, file: f, start: ef.fromSeq}, nil
}

// openResume opens path for appending after its last complete entry.
func (a *app) openResume(path string) (*exportTarget, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	t, err := a.resumePoint(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot resume %s: %w", path, err)
	}
	return t, nil
}

func (a *app) resumePoint(f *os.File) (*exportTarget, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	line, keep, err := lastLine(f, st.Size())
	if err != nil {
		return nil, err
	}
	t := &exportTarget{w: f, file: f}
	if line == nil && keep == 0 && st.Size() > 0 {
		return nil, errors.New("it holds no complete line; is it an audit export?")
	}
	if line != nil {
		var last apiv1.AuditEntry
		if err := json.Unmarshal(line, &last); err != nil || last.Seq < 1 {
			return nil, errors.New("its last line is not an audit entry")
		}
		t.start, t.prev = last.Seq+1, last.EntryHash
	}
	if dropped := st.Size() - keep; dropped > 0 {
		if err := f.Truncate(keep); err != nil {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "Dropped an incomplete last line (%d bytes).\n", dropped)
	}
	if _, err := f.Seek(keep, io.SeekStart); err != nil {
		return nil, err
	}
	return t, nil
}

// lastLineChunk is how much of a file lastLine reads at a time.
const lastLineChunk = 64 << 10

// lastLine finds, reading backwards from the end, the last non-blank
// newline-terminated line of r (nil if none) and keep, the length of the
// prefix up to and including the last newline.
func lastLine(r io.ReaderAt, size int64) (line []byte, keep int64, err error) {
	var buf []byte // r[off:size]
	off := size
	for {
		if line, keep, ok := findLastLine(buf, off); ok {
			return line, keep, nil
		}
		if off == 0 {
			return nil, 0, nil
		}
		if size-off > 4<<20 {
			return nil, 0, errors.New("its last line is longer than 4 MiB")
		}
		n := min(off, lastLineChunk)
		off -= n
		chunk := make([]byte, n)
		if _, err := r.ReadAt(chunk, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		buf = append(chunk, buf...)
	}
}

// findLastLine looks for the answer of lastLine in buf, which starts at
// file offset off; ok is false when more of the file is needed.
func findLastLine(buf []byte, off int64) (line []byte, keep int64, ok bool) {
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return nil, 0, false
	}
	keep = off + int64(end) + 1
	for {
		start := bytes.LastIndexByte(buf[:end], '\n')
		if start < 0 && off > 0 {
			return nil, 0, false
		}
		if l := bytes.TrimSpace(buf[start+1 : end]); len(l) > 0 {
			return l, keep, true
		}
		if start < 0 {
			return nil, keep, true
		}
		end = start
	}
}
