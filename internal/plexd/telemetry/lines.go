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
	br := bufio.NewReaderSize(r, 64<<10)
	var consumed, pending int64
	var long []byte
	skipping := false
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
			}
			return consumed, err
		}
		if !skipping {
			line := chunk
			if len(long) > 0 {
				long = append(long, chunk...)
				line = long
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) <= maxLine {
				fn(line)
			}
		}
		consumed += pending
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
