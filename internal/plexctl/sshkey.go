package plexctl

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// managedKeyName is the file name of the SSH key pair plexctl keeps in
// its config directory; the public half is <name>.pub.
const managedKeyName = "id_ed25519"

// configDir is the directory of the config file; plexctl keeps its SSH
// key and its credential cache there.
func (a *app) configDir() (string, error) {
	p, err := a.configPath()
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// sshKeyPath is the managed private key: <config dir>/ssh/id_ed25519.
func (a *app) sshKeyPath() (string, error) {
	dir, err := a.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ssh", managedKeyName), nil
}

// ensureSSHKey returns the managed key's path and its public key as an
// authorized_keys line, generating an Ed25519 pair (OpenSSH format,
// private half 0600) on first use.
func (a *app) ensureSSHKey() (path, authorizedKey string, err error) {
	path, err = a.sshKeyPath()
	if err != nil {
		return "", "", err
	}
	pemBytes, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		pub, gerr := generateSSHKey(path, a.keyComment())
		if !errors.Is(gerr, fs.ErrExist) {
			return path, pub, gerr
		}
		// Another plexctl made the key meanwhile: use that one.
		pemBytes, err = os.ReadFile(path)
	}
	if err != nil {
		return "", "", fmt.Errorf("read SSH key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return "", "", fmt.Errorf("SSH key %s: %w (remove it to let plexctl make a new one)", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		// OpenSSH refuses a private key others can read.
		if err := os.Chmod(path, 0o600); err != nil {
			return "", "", fmt.Errorf("SSH key %s is accessible by others: %w", path, err)
		}
	}
	return path, authorizedLine(signer.PublicKey()), nil
}

func (a *app) keyComment() string {
	user := firstOf(a.env("USER"), "operator")
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "plexctl " + user
	}
	return "plexctl " + user + "@" + host
}

// generateSSHKey writes a new Ed25519 pair at path (0600) and path.pub
// (0644), and returns the public key line.
func generateSSHKey(path, comment string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate SSH key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return "", fmt.Errorf("encode SSH key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode SSH key: %w", err)
	}
	line := authorizedLine(sshPub)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save SSH key: %w", err)
	}
	if err := writeFileExclusive(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", fmt.Errorf("save SSH key: %w", err)
	}
	if err := writeFileAtomic(path+".pub", []byte(line+" "+comment+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("save SSH key: %w", err)
	}
	return line, nil
}

// authorizedLine is "<type> <base64>", without comment or newline.
func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// writeFileExclusive writes data to a new file at path (fs.ErrExist when
// there is one), complete or not at all.
func writeFileExclusive(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Link(tmp, path)
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, with mode perm.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after the rename
	return os.Rename(tmp, path)
}

// writeTemp writes data to a new temporary file next to path and returns
// its name.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}
