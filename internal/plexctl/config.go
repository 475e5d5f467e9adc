package plexctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxConfigSize bounds the config file plexctl is willing to parse.
const maxConfigSize = 1 << 20

// config is the plexctl config file: saved contexts and the current one.
type config struct {
	CurrentContext string         `yaml:"current-context,omitempty"`
	Contexts       []savedContext `yaml:"contexts"`
}

// savedContext is a named server with its credential: a token inline or a
// file to read it from at use time.
type savedContext struct {
	Name      string `yaml:"name"`
	Server    string `yaml:"server"`
	Token     string `yaml:"token,omitempty"`
	TokenFile string `yaml:"token-file,omitempty"`
	// Login holds what 'plexctl login' obtained; token and token-file win
	// over it.
	Login *login `yaml:"login,omitempty"`
}

func (sc *savedContext) token() (string, error) {
	if sc.TokenFile != "" {
		tok, err := readTokenFile(sc.TokenFile)
		if err != nil {
			return "", fmt.Errorf("context %q: %w", sc.Name, err)
		}
		return tok, nil
	}
	return sc.Token, nil
}

// auth describes the credential without revealing it.
func (sc *savedContext) auth() string {
	switch {
	case sc.TokenFile != "":
		return "token-file " + sc.TokenFile
	case sc.Token != "":
		return "token"
	case sc.Login != nil:
		return "login"
	}
	return "none"
}

func (c *config) find(name string) *savedContext {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i]
		}
	}
	return nil
}

func (c *config) remove(name string) bool {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			c.Contexts = append(c.Contexts[:i], c.Contexts[i+1:]...)
			if c.CurrentContext == name {
				c.CurrentContext = ""
			}
			return true
		}
	}
	return false
}

// parseConfig decodes and validates a config file. Unknown keys are an
// error, so that a typo does not silently drop a setting.
func parseConfig(data []byte) (*config, error) {
	cfg := &config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	seen := map[string]bool{}
	for _, sc := range cfg.Contexts {
		if err := validContextName(sc.Name); err != nil {
			return nil, err
		}
		if seen[sc.Name] {
			return nil, fmt.Errorf("context %q is defined twice", sc.Name)
		}
		seen[sc.Name] = true
		if sc.Token != "" && sc.TokenFile != "" {
			return nil, fmt.Errorf("context %q has both token and token-file", sc.Name)
		}
	}
	return cfg, nil
}

func validContextName(name string) error {
	if name == "" {
		return errors.New("context name is empty")
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("context name %q contains whitespace or control characters", name)
	}
	return nil
}

// configPath is $PLEXCTL_CONFIG, else $XDG_CONFIG_HOME/plexctl/config.yaml,
// else ~/.config/plexctl/config.yaml.
func (a *app) configPath() (string, error) {
	if p := a.env(envConfig); p != "" {
		return p, nil
	}
	dir := a.env("XDG_CONFIG_HOME")
	if dir == "" {
		home := a.env("HOME")
		if home == "" {
			return "", errors.New("cannot place the config file: set " + envConfig + ", XDG_CONFIG_HOME or HOME")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "plexctl", "config.yaml"), nil
}

// loadConfig reads the config file; a missing file is an empty config. It
// warns when a file holding tokens is readable by others.
func (a *app) loadConfig() (*config, string, error) {
	path, err := a.configPath()
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &config{}, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, path, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, path, fmt.Errorf("config %s is larger than %d bytes", path, maxConfigSize)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, path, fmt.Errorf("config %s: %w", path, err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 && hasInlineToken(cfg) {
		fmt.Fprintf(a.stderr, "Warning: %s holds tokens and is accessible by others (mode %04o); run: chmod 600 %s\n",
			path, st.Mode().Perm(), path)
	}
	return cfg, path, nil
}

func hasInlineToken(cfg *config) bool {
	for _, sc := range cfg.Contexts {
		if sc.Token != "" || sc.Login != nil {
			return true
		}
	}
	return false
}

// saveConfig writes cfg atomically with mode 0600 (directory 0700).
func saveConfig(path string, cfg *config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // keep a symlinked config a symlink
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}
