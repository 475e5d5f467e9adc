//go:build !unix

package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lockKEKFile takes the exclusive lock that serialises changes to the KEK
// file at path: <path>.lock created with O_EXCL and removed on unlock (a
// crash leaves it behind; remove it by hand).
func lockKEKFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w (%s.lock exists)", ErrKEKBusy, path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	f.Close()
	return func() { os.Remove(path + ".lock") }, nil
}
