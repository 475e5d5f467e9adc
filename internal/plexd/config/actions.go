package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Settings of actions and hooks (docs/actions-node.md).
const (
	KeyActionsDisabled     Key = "actions_disabled"
	KeyActionsServiceAllow Key = "actions_service_allow"
	KeyActionsFileAllow    Key = "actions_file_allow"
	KeyHooksDir            Key = "hooks_dir"
	KeyHooksUser           Key = "hooks_user"
)

// DefaultHooksUser runs hooks when plexd is root.
const DefaultHooksUser = "nobody"

// Actions configures the executor of action requests.
type Actions struct {
	// Disabled rejects every action request (actions_disabled).
	Disabled bool
	// ServiceAllow lists the systemd units service.restart may restart.
	ServiceAllow []string
	// FileAllow lists the absolute path prefixes file.read may read.
	FileAllow []string
	// HooksDir holds the hook manifests (default hooks.d beside the
	// config file).
	HooksDir string
	// HooksUser is the unprivileged account hooks run as when plexd is
	// root (default nobody).
	HooksUser string
}

// parseActions decodes and validates the actions and hooks settings;
// configFile is the file read ("" for none).
func parseActions(v map[Key]string, configFile string) (Actions, error) {
	a := Actions{HooksDir: v[KeyHooksDir], HooksUser: or(v[KeyHooksUser], DefaultHooksUser)}
	if s := strings.TrimSpace(v[KeyActionsDisabled]); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return a, fmt.Errorf("config: %s: %q is not true or false", KeyActionsDisabled, s)
		}
		a.Disabled = b
	}
	for _, u := range listItems(v[KeyActionsServiceAllow]) {
		if !validUnit(u) {
			return a, fmt.Errorf("config: %s: %q is not a systemd unit name", KeyActionsServiceAllow, u)
		}
		a.ServiceAllow = append(a.ServiceAllow, u)
	}
	for _, p := range listItems(v[KeyActionsFileAllow]) {
		if !filepath.IsAbs(p) {
			return a, fmt.Errorf("config: %s: %q is not an absolute path", KeyActionsFileAllow, p)
		}
		a.FileAllow = append(a.FileAllow, filepath.Clean(p))
	}
	if a.HooksDir == "" {
		dir := filepath.Dir(DefaultConfigFile)
		if configFile != "" {
			dir = filepath.Dir(configFile)
		}
		a.HooksDir = filepath.Join(dir, "hooks.d")
	}
	if !filepath.IsAbs(a.HooksDir) {
		abs, err := filepath.Abs(a.HooksDir)
		if err != nil {
			return a, fmt.Errorf("config: %s: %w", KeyHooksDir, err)
		}
		a.HooksDir = abs
	}
	if !validGroupName(a.HooksUser) || a.HooksUser == "root" {
		return a, fmt.Errorf("config: %s: %q is not an unprivileged user name", KeyHooksUser, a.HooksUser)
	}
	return a, nil
}

// listItems splits a list setting at commas and white space.
func listItems(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// validUnit: systemd's unit name characters, not starting like an option.
func validUnit(s string) bool {
	if s == "" || len(s) > 255 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(":-_.@\\", c)
		if !ok {
			return false
		}
	}
	return true
}
