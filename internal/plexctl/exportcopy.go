package plexctl

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// chainCheck follows the stream: contiguous seq numbers and prev_hash
// links, starting from what the target already holds.
type chainCheck struct {
	next int64  // the seq the next entry must have
	prev string // entry_hash the next prev_hash must equal, when known
}

func (k *chainCheck) accept(rec apiclient.AuditRecord) error {
	e := rec.Entry
	if e.Seq != k.next {
		return fmt.Errorf("expected seq %d, the server sent seq %d", k.next, e.Seq)
	}
	if k.prev != "" && e.PrevHash != k.prev {
		return fmt.Errorf("chain broken at seq %d: its prev_hash %s is not the entry_hash %s of seq %d",
			e.Seq, e.PrevHash, k.prev, e.Seq-1)
	}
	k.next, k.prev = e.Seq+1, e.EntryHash
	return nil
}

// runExport streams the chain into t, checking it, and reports progress.
// Whatever was written before an error stays, line-complete, for --resume.
func (a *app) runExport(cmd *cobra.Command, c *apiclient.Client, ch apiclient.Chain, t *exportTarget, ef exportFlags) (err error) {
	if t.file != nil {
		defer func() {
			if cerr := t.file.Close(); err == nil {
				err = cerr
			}
		}()
	}
	s, err := c.ExportAudit(cmd.Context(), ch, t.start)
	if err != nil {
		return err
	}
	defer s.Close()
	w := bufio.NewWriterSize(t.w, 256<<10)
	check := chainCheck{next: max(t.start, 1), prev: t.prev}
	first, n := check.next, 0
	for rec, rerr := range s.All() {
		if rerr == nil {
			rerr = check.accept(rec)
		}
		if rerr != nil {
			err = rerr
			break
		}
		// bufio.Writer errors are sticky and surface at Flush.
		_, _ = w.Write(rec.Raw)
		_ = w.WriteByte('\n')
		if n++; ef.every > 0 && n%ef.every == 0 {
			if err = w.Flush(); err != nil {
				break
			}
			fmt.Fprintf(a.stderr, "Exported %s (through seq %d).\n", entries(n), check.next-1)
		}
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err == nil && t.file != nil {
		err = t.file.Sync()
	}
	a.exportSummary(ef, n, first, check.next-1, err)
	return err
}

func (a *app) exportSummary(ef exportFlags, n int, first, last int64, err error) {
	dest := "stdout"
	if ef.file != "" {
		dest = ef.file
	}
	switch {
	case n > 0:
		fmt.Fprintf(a.stderr, "Exported %s (seq %d..%d) to %s.\n", entries(n), first, last, dest)
	case err == nil:
		fmt.Fprintf(a.stderr, "No entries from seq %d.\n", first)
	}
	if err != nil && ef.file != "" {
		fmt.Fprintf(a.stderr, "Continue with: plexctl audit export --file %s --resume (and the same chain flag)\n", ef.file)
	}
}

func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
