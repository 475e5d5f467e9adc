package baotest

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"
)

// health answers GET sys/health with OpenBao's status codes and body.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeErrors(w, http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	code := func(name string, def int) (int, bool) {
		v, ok := q[name]
		if !ok {
			return def, true
		}
		n, err := strconv.Atoi(v[0])
		return n, err == nil
	}
	uninit, ok1 := code("uninitcode", http.StatusNotImplemented)
	sealedCode, ok2 := code("sealedcode", http.StatusServiceUnavailable)
	standbyCode, ok3 := code("standbycode", http.StatusTooManyRequests)
	active, ok4 := code("activecode", http.StatusOK)
	standbyOK, err := strconv.ParseBool(q.Get("standbyok"))
	if !ok1 || !ok2 || !ok3 || !ok4 || (q.Has("standbyok") && err != nil) {
		writeErrors(w, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	initialised, sealed, standby := !s.uninitialised, s.sealed || s.uninitialised, s.standby
	s.mu.Unlock()
	status := active
	switch {
	case !initialised:
		status = uninit
	case sealed:
		status = sealedCode
	case standby && !standbyOK:
		status = standbyCode
	}
	body := map[string]any{
		"initialized": initialised, "sealed": sealed, "standby": standby, "performance_standby": false,
		"replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
		"server_time_utc": time.Now().UTC().Unix(), "version": "2.5.0",
	}
	if !sealed {
		body["cluster_name"], body["cluster_id"] = "baotest", "7f0c1a52-0000-4000-8000-000000000001"
	}
	writeJSON(w, status, body)
}

// login answers POST auth/approle/login.
func (s *Server) login(w http.ResponseWriter, r *http.Request, ns string) {
	if !isWrite(r) {
		methodNotAllowed(w)
		return
	}
	var in struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if in.RoleID == "" {
		writeErrors(w, http.StatusBadRequest, "missing role_id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ro := s.roles[ns]
	if ro == nil || subtle.ConstantTimeCompare([]byte(in.RoleID), []byte(ro.roleID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(in.SecretID), []byte(ro.secretID)) != 1 {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	tok := "s." + randomID(12)
	s.tokens[tok] = &token{namespace: ns, expires: time.Now().Add(s.tokenTTL)}
	writeResponse(w, http.StatusOK, "approle", nil, map[string]any{
		"client_token": tok, "accessor": randomID(12),
		"policies": []string{"default"}, "token_policies": []string{"default"},
		"metadata": map[string]string{"role_name": "plexsphere"}, "lease_duration": int(s.tokenTTL / time.Second),
		"renewable": true, "entity_id": uuid(), "token_type": "service", "orphan": true,
		"mfa_requirement": nil, "num_uses": 0,
	})
}
