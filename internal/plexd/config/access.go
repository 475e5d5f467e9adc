package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Bounds of access_recording_max.
const (
	minRecordingMax = 4 << 10
	maxRecordingMax = 1 << 30
)

// parseAccess decodes and validates the access_* settings.
func parseAccess(v map[Key]string) (Access, error) {
	a := Access{Port: nodeproto.DefaultAccessPort, RecordingMax: DefaultAccessRecordingMax,
		KubeAPI: v[KeyAccessKubeAPI], KubeTokenFile: v[KeyAccessKubeTokenFile], KubeCAFile: v[KeyAccessKubeCAFile]}
	if s := strings.TrimSpace(v[KeyAccessPort]); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 0 || p > 65535 {
			return a, fmt.Errorf("config: %s: %q is not a port (0 disables the listener)", KeyAccessPort, s)
		}
		a.Port = p
	}
	users, err := parseSSHUsers(v[KeyAccessSSHUsers])
	if err != nil {
		return a, err
	}
	a.SSHUsers = users
	if a.KubeAPI != "" {
		u, err := url.Parse(a.KubeAPI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return a, fmt.Errorf("config: %s: %q is not an http(s) URL", KeyAccessKubeAPI, a.KubeAPI)
		}
	}
	if s := strings.TrimSpace(v[KeyAccessRecordingMax]); s != "" {
		n, err := parseSize(s)
		if err != nil || n < minRecordingMax || n > maxRecordingMax {
			return a, fmt.Errorf("config: %s: %q is not a size between 4KiB and 1GiB", KeyAccessRecordingMax, s)
		}
		a.RecordingMax = n
	}
	return a, nil
}

// parseSSHUsers reads "user" and "user=local" items separated by commas
// or white space.
func parseSSHUsers(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		target, local, ok := strings.Cut(item, "=")
		if !ok {
			local = target
		}
		if !validSessionUser(target) || !validGroupName(local) {
			return nil, fmt.Errorf("config: %s: %q is not user or user=local-account", KeyAccessSSHUsers, item)
		}
		if prev, dup := out[target]; dup && prev != local {
			return nil, fmt.Errorf("config: %s: %q is mapped twice", KeyAccessSSHUsers, target)
		}
		out[target] = local
	}
	return out, nil
}

// validSessionUser is a session's target user: printable ASCII, at most
// 64 bytes (nodeproto's rule), without the list's separators.
func validSessionUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == ',' || s[i] == '=' {
			return false
		}
	}
	return true
}

// parseSize reads a byte count with an optional K, KiB, M, MiB, G or GiB
// suffix (all binary).
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGiBkmgib")
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil {
		return 0, err
	}
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "kib": 10, "m": 20, "mib": 20, "g": 30, "gib": 30}
	sh, ok := shift[unit]
	if !ok || n < 0 || n > 1<<40 {
		return 0, fmt.Errorf("unknown size %q", s)
	}
	return n << sh, nil
}
