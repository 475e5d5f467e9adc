package baotest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// WriteOutOfBand writes value as a new version of the KV v2 secret at path
// ("<mount>/<secret path>", root namespace), base64 in the value_b64 field,
// directly in the store: what an operator's `bao kv put` does. It returns
// the new version.
func (s *Server) WriteOutOfBand(path string, value []byte) int64 {
	return s.WriteData("", path, map[string]any{"value_b64": base64.StdEncoding.EncodeToString(value)})
}

// WriteData writes data as a new version of the KV v2 secret at path
// ("<mount>/<secret path>") in namespace ns and returns the version.
func (s *Server) WriteData(ns, path string, data map[string]any) int64 {
	s.t.Helper()
	key := s.operatorKey(ns, path)
	raw, err := json.Marshal(data)
	if err != nil {
		s.t.Fatalf("baotest: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := s.addVersionLocked(key, raw)
	return int64(n)
}

// DeleteVersion soft-deletes one version (`bao kv delete -versions=N`): it
// reads as 404 with its metadata, deletion_time set.
func (s *Server) DeleteVersion(ns, path string, version int64) {
	s.t.Helper()
	s.withVersion(ns, path, version, func(v *kvVersion) { v.deleted = time.Now().Add(-time.Millisecond) })
}

// DestroyVersion destroys one version's data (`bao kv destroy -versions=N`).
func (s *Server) DestroyVersion(ns, path string, version int64) {
	s.t.Helper()
	s.withVersion(ns, path, version, func(v *kvVersion) { v.destroyed, v.data = true, nil })
}

func (s *Server) withVersion(ns, path string, version int64, f func(*kvVersion)) {
	s.t.Helper()
	key := s.operatorKey(ns, path)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.kv[key]
	if e == nil || version < 1 || e.versions[uint64(version)] == nil {
		s.t.Fatalf("baotest: no version %d at %s", version, path)
	}
	f(e.versions[uint64(version)])
}

func (s *Server) operatorKey(ns, path string) string {
	s.t.Helper()
	mount, rest, _ := strings.Cut(strings.Trim(path, "/"), "/")
	s.mu.Lock()
	ok := s.kvMounts[mount]
	s.mu.Unlock()
	if !ok || rest == "" {
		s.t.Fatalf("baotest: %q is not <kv mount>/<path>", path)
	}
	return kvKey(cleanNS(ns), mount, rest)
}
