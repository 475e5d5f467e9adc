package baotest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// kvEntry is one KV v2 path: its metadata and versions.
type kvEntry struct {
	created, updated time.Time
	current, oldest  uint64
	versions         map[uint64]*kvVersion
}

type kvVersion struct {
	data      json.RawMessage // nil once destroyed
	created   time.Time
	deleted   time.Time // zero: not deleted
	destroyed bool
}

func kvKey(ns, mount, path string) string { return ns + "\x00" + mount + "\x00" + path }

func (s *Server) serveKV(w http.ResponseWriter, r *http.Request, ns, mount, rest string) {
	kind, path, _ := strings.Cut(rest, "/")
	if path == "" || (kind != "data" && kind != "metadata") {
		writeErrors(w, http.StatusNotFound, `no handler for route "`+mount+"/"+rest+`". route entry not found.`)
		return
	}
	key := kvKey(ns, mount, path)
	switch {
	case kind == "data" && r.Method == http.MethodGet:
		s.kvRead(w, r, key)
	case kind == "data" && isWrite(r):
		s.kvWrite(w, r, key)
	case kind == "metadata" && r.Method == http.MethodGet:
		s.kvMetadata(w, key)
	case kind == "metadata" && r.Method == http.MethodDelete:
		s.mu.Lock()
		delete(s.kv, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w)
	}
}

func (s *Server) kvRead(w http.ResponseWriter, r *http.Request, key string) {
	var want uint64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "1 error occurred:\n\t* error converting input "+strconv.Quote(v)+" for field \"version\"\n\n")
			return
		}
		if n > 0 {
			want = uint64(n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.kv[key]
	if e == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	if want == 0 {
		want = e.current
	}
	v := e.versions[want]
	if v == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	data := map[string]any{"data": nil, "metadata": versionMeta(want, v)}
	if v.destroyed || (!v.deleted.IsZero() && v.deleted.Before(time.Now())) {
		writeResponse(w, http.StatusNotFound, "kv", data, nil)
		return
	}
	data["data"] = v.data
	writeResponse(w, http.StatusOK, "kv", data, nil)
}

func versionMeta(n uint64, v *kvVersion) map[string]any {
	return map[string]any{"version": n, "created_time": timeString(v.created), "deletion_time": timeString(v.deleted),
		"destroyed": v.destroyed, "custom_metadata": nil}
}

func (s *Server) kvWrite(w http.ResponseWriter, r *http.Request, key string) {
	var in struct {
		Data    json.RawMessage `json:"data"`
		Options map[string]any  `json:"options"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if len(in.Data) == 0 || string(in.Data) == "null" {
		writeErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	var obj map[string]any
	if json.Unmarshal(in.Data, &obj) != nil {
		writeErrors(w, http.StatusBadRequest, "1 error occurred:\n\t* error converting input for field \"data\": expected a map\n\n")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.kv[key]
	current := uint64(0)
	if e != nil {
		current = e.current
	}
	if raw, ok := in.Options["cas"]; ok {
		cas, err := weakInt(raw)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "error parsing check-and-set parameter")
			return
		}
		if cas < 0 || uint64(cas) != current {
			writeErrors(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
			return
		}
	}
	n, v := s.addVersionLocked(key, in.Data)
	writeResponse(w, http.StatusOK, "kv", versionMeta(n, v), nil)
}

// addVersionLocked stores data as the next version of key, trimming the
// oldest versions beyond the mount's maximum as OpenBao does.
func (s *Server) addVersionLocked(key string, data json.RawMessage) (uint64, *kvVersion) {
	now := time.Now()
	e := s.kv[key]
	if e == nil {
		e = &kvEntry{created: now, versions: map[uint64]*kvVersion{}}
		s.kv[key] = e
	}
	e.current++
	e.updated = now
	v := &kvVersion{data: append(json.RawMessage(nil), data...), created: now}
	e.versions[e.current] = v
	if len(e.versions) > maxVersions {
		drop := e.current - maxVersions
		for i := e.oldest; i <= drop; i++ {
			delete(e.versions, i)
		}
		e.oldest = drop + 1
	}
	return e.current, v
}

func (s *Server) kvMetadata(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.kv[key]
	if e == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	versions := map[string]any{}
	for n, v := range e.versions {
		versions[strconv.FormatUint(n, 10)] = map[string]any{"created_time": timeString(v.created),
			"deletion_time": timeString(v.deleted), "destroyed": v.destroyed}
	}
	writeResponse(w, http.StatusOK, "kv", map[string]any{
		"versions": versions, "current_version": e.current, "oldest_version": e.oldest,
		"created_time": timeString(e.created), "updated_time": timeString(e.updated),
		"max_versions": 0, "cas_required": false, "delete_version_after": "0s", "custom_metadata": nil,
	}, nil)
}

// weakInt reads a JSON number or numeric string, as OpenBao's weak decoding
// of options.cas does.
func weakInt(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, strconv.ErrSyntax
}
