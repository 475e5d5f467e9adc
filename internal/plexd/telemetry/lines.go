package telemetry

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// readLines calls fn with each complete line of r (without its line
// ending; the slice is valid during the call only), skipping lines longer
// than maxLine. It answers how many bytes the complete lines took, so a
// partial line at the end is read again next time.
func readLines(r io.Reader, maxLine int, fn func(line []byte)) (int64, error) {
	res, err := scanLines(r, maxLine, false, fn)
	return res.consumed, err
}

// scanResult is what scanLines read.
type scanResult struct {
	// consumed is the bytes of complete lines, plus those of an over-long
	// line still being skipped at the end (never read again).
	consumed int64
	// skipping: the input ended inside an over-long line; the next scan
	// starts by skipping the rest of it.
	skipping bool
	// long counts the over-long lines that ended in this scan.
	long int
}

// scanLines is readLines for tails: it starts skipping the rest of an
// over-long line when skipping is set, counts over-long lines, and
// consumes an over-long line's bytes even when the input ends inside it,
// so a line longer than one read never stalls the tail.
func scanLines(r io.Reader, maxLine int, skipping bool, fn func(line []byte)) (scanResult, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var res scanResult
	var pending int64
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		pending += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping && len(long)+len(chunk) > maxLine {
				skipping, long = true, long[:0]
			} else if !skipping {
				long = append(long, chunk...)
			}
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
				if skipping {
					res.consumed += pending
					res.skipping = true
				} else if len(long)+len(chunk) > maxLine {
					res.consumed += pending // an over-long line, cut by the end of the input
					res.skipping = true
				}
			}
			return res, err
		}
		if skipping {
			res.long++
		} else {
			line := chunk
			if len(long) > 0 {
				long = append(long, chunk...)
				line = long
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) <= maxLine {
				fn(line)
			} else {
				res.long++
			}
		}
		res.consumed += pending
		pending, skipping, long = 0, false, long[:0]
	}
}

// writeState replaces a small state file atomically (mode 0600).
func writeState(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
