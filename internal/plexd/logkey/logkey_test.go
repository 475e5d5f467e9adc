package logkey

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoLiteralKeys keeps plexd's production code on these constants: a
// slog attribute built from a string literal key fails the test.
func TestNoLiteralKeys(t *testing.T) {
	literal := regexp.MustCompile(`slog\.(String|Int|Int64|Uint64|Float64|Bool|Time|Duration|Any|Group)\("`)
	root := ".."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(raw), "\n") {
			if literal.MatchString(line) {
				t.Errorf("%s:%d: literal log key; add a constant to logkey", p, i+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
