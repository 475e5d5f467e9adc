package actions

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Bounds of the hooks directory and its manifests.
const (
	maxManifestSize = 64 << 10
	maxHooks        = 128
	maxHookParams   = 32
	maxNameLen      = 64
	maxDescLen      = 1024
)

// Parameter types of a built-in or hook parameter.
const (
	TypeString = "string"
	TypeInt    = "int"
	TypeBool   = "bool"
	TypeIP     = "ip"
	TypePath   = "path"
)

// HookManifest is the YAML form of one hook in the hooks directory.
type HookManifest struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description,omitempty"`
	Command     string      `yaml:"command"`
	Parameters  []HookParam `yaml:"parameters,omitempty"`
	Timeout     string      `yaml:"timeout,omitempty"`
	Checksum    string      `yaml:"checksum"`
}

// HookParam declares one hook parameter.
type HookParam struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type,omitempty"`
	Required    bool   `yaml:"required,omitempty"`
	Description string `yaml:"description,omitempty"`
}

// Hook is a validated hook manifest.
type Hook struct {
	Name        string
	Description string
	// Command is the absolute path of the executable, run without
	// arguments.
	Command string
	// Checksum is the lowercase hex SHA-256 the executable must have.
	Checksum string
	Params   []nodeproto.ActionParam
	// Timeout caps the request's timeout (0: the request's alone).
	Timeout time.Duration
}

// ParseHookManifest decodes and validates one manifest: one YAML
// document, no unknown keys, at most 64 KiB.
func ParseHookManifest(data []byte) (*Hook, error) {
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("hook manifest: larger than %d bytes", maxManifestSize)
	}
	var m HookManifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("hook manifest: empty")
		}
		return nil, fmt.Errorf("hook manifest: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("hook manifest: more than one YAML document")
	}
	return m.validate()
}

func (m *HookManifest) validate() (*Hook, error) {
	h := &Hook{Name: m.Name, Description: m.Description, Command: m.Command, Checksum: m.Checksum,
		Params: []nodeproto.ActionParam{}}
	switch {
	case !validName(m.Name):
		return nil, fmt.Errorf("hook manifest: name %q is not 1-64 of [a-z0-9._-] starting with a letter or digit", m.Name)
	case len(m.Description) > maxDescLen || !printable(m.Description):
		return nil, fmt.Errorf("hook %s: description is not printable text of at most %d bytes", m.Name, maxDescLen)
	case !filepath.IsAbs(m.Command) || filepath.Clean(m.Command) != m.Command || len(m.Command) > 4096 || !printable(m.Command):
		return nil, fmt.Errorf("hook %s: command %q is not a clean absolute path", m.Name, m.Command)
	case !nodeproto.ValidChecksum(m.Checksum):
		return nil, fmt.Errorf("hook %s: checksum is not a lowercase hex SHA-256", m.Name)
	case len(m.Parameters) > maxHookParams:
		return nil, fmt.Errorf("hook %s: more than %d parameters", m.Name, maxHookParams)
	}
	if m.Timeout != "" {
		d, err := time.ParseDuration(m.Timeout)
		if err != nil || d <= 0 || d > nodeproto.MaxActionTimeout {
			return nil, fmt.Errorf("hook %s: timeout %q is not a duration in (0, 10m]", m.Name, m.Timeout)
		}
		h.Timeout = d
	}
	envs := map[string]string{}
	for _, p := range m.Parameters {
		ap, err := p.validate(m.Name)
		if err != nil {
			return nil, err
		}
		env := ParamEnv(p.Name)
		if other, dup := envs[env]; dup {
			return nil, fmt.Errorf("hook %s: parameters %q and %q share the variable %s", m.Name, other, p.Name, env)
		}
		envs[env] = p.Name
		h.Params = append(h.Params, ap)
	}
	return h, nil
}

func (p HookParam) validate(hook string) (nodeproto.ActionParam, error) {
	typ := p.Type
	if typ == "" {
		typ = TypeString
	}
	switch {
	case p.Name == "" || len(p.Name) > maxNameLen || !paramName(p.Name):
		return nodeproto.ActionParam{}, fmt.Errorf("hook %s: parameter name %q is not 1-64 of [A-Za-z0-9._-]", hook, p.Name)
	case !slices.Contains([]string{TypeString, TypeInt, TypeBool, TypeIP, TypePath}, typ):
		return nodeproto.ActionParam{}, fmt.Errorf("hook %s: parameter %s: type %q is not string, int, bool, ip or path", hook, p.Name, p.Type)
	case len(p.Description) > maxDescLen || !printable(p.Description):
		return nodeproto.ActionParam{}, fmt.Errorf("hook %s: parameter %s: description is not printable text", hook, p.Name)
	}
	return nodeproto.ActionParam{Name: p.Name, Type: typ, Required: p.Required, Description: p.Description}, nil
}

// ParamEnv is the environment variable carrying parameter name to a hook:
// PLEXD_PARAM_ and the name upper-cased, non-alphanumerics as "_".
func ParamEnv(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return "PLEXD_PARAM_" + string(b)
}

// validName: an action or hook name, [a-z0-9][a-z0-9._-]{0,63}.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen || !(lowerAlnum(s[0])) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerAlnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func paramName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(lowerAlnum(c) || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// printable: valid UTF-8 without control characters but tab.
func printable(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || r < ' ' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// LoadHooks reads every *.yaml and *.yml manifest of dir, sorted by file
// name. Invalid manifests, names taken by a built-in or an earlier file,
// and files past the 128th are reported in errs and skipped. A missing
// directory has no hooks.
func LoadHooks(dir string, reserved func(name string) bool) (hooks []*Hook, errs []error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("hooks dir: %w", err)}
	}
	names := map[string]bool{}
	for _, de := range entries {
		ext := filepath.Ext(de.Name())
		if de.IsDir() || (ext != ".yaml" && ext != ".yml") || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		if len(hooks) == maxHooks {
			errs = append(errs, fmt.Errorf("%s: more than %d hooks", path, maxHooks))
			continue
		}
		h, err := readManifest(path)
		switch {
		case err != nil:
			errs = append(errs, err)
		case reserved != nil && reserved(h.Name):
			errs = append(errs, fmt.Errorf("%s: hook name %q is a built-in action", path, h.Name))
		case names[h.Name]:
			errs = append(errs, fmt.Errorf("%s: hook name %q is declared twice", path, h.Name))
		default:
			names[h.Name] = true
			hooks = append(hooks, h)
		}
	}
	return hooks, errs
}

func readManifest(path string) (*Hook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h, err := ParseHookManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}
