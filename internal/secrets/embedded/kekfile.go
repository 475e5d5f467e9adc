package embedded

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxKEKFile bounds what is read of a KEK file.
const maxKEKFile = 1 << 20

// ErrKEKFileMode: the KEK file allows more than owner read and write.
var ErrKEKFileMode = errors.New("KEK file mode is wider than 0600")

// readKEKFile reads the KEK file at path, refusing anything but a regular
// file only its owner can access.
func readKEKFile(path string) (string, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("KEK file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
		return "", nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrKEKFileMode, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKEKFile+1))
	if err != nil {
		return "", nil, err
	}
	if len(b) > maxKEKFile {
		return "", nil, fmt.Errorf("KEK file %s is larger than %d bytes", path, maxKEKFile)
	}
	return string(b), fi, nil
}

// createKEKFile creates path holding one fresh key, unless it exists. The
// file appears complete or not at all: it is written under a temporary
// name and linked into place, which fails when another process created it
// first (that file then wins).
func createKEKFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, line := newKeyLine(nil)
	tmp, err := writeTemp(dir, fileHeader+line+"\n")
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(dir)
}

// replaceKEKFile atomically replaces path with text, mode 0600.
func replaceKEKFile(path, text string) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, text)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// writeTemp writes text to a new 0600 file in dir (created with O_EXCL)
// and syncs it; it returns the file's name.
func writeTemp(dir, text string) (string, error) {
	f, err := os.CreateTemp(dir, ".secrets-kek-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(text)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
