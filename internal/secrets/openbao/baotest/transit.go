package baotest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

func (s *Server) serveTransit(w http.ResponseWriter, r *http.Request, ns, mount, rest string) {
	op, name, _ := strings.Cut(rest, "/")
	if name == "" || strings.Contains(name, "/") || (op != "encrypt" && op != "decrypt") {
		writeErrors(w, http.StatusNotFound, `no handler for route "`+mount+"/"+rest+`". route entry not found.`)
		return
	}
	if !isWrite(r) {
		methodNotAllowed(w)
		return
	}
	var in struct {
		Plaintext  string `json:"plaintext"`
		Ciphertext string `json:"ciphertext"`
		Context    string `json:"context"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Context != "" {
		writeErrors(w, http.StatusBadRequest, "key was not created as a derived key, but a context was provided")
		return
	}
	key := kvKey(ns, mount, name)
	if op == "encrypt" {
		s.encrypt(w, key, in.Plaintext)
	} else {
		s.decrypt(w, key, in.Ciphertext)
	}
}

func (s *Server) encrypt(w http.ResponseWriter, key, plaintextB64 string) {
	pt, err := base64.StdEncoding.DecodeString(plaintextB64)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "failed to base64-decode plaintext")
		return
	}
	s.mu.Lock()
	aead := s.transit[key]
	if aead == nil { // OpenBao's upsert: encrypt creates a missing key
		aead = newKey()
		s.transit[key] = aead
	}
	s.mu.Unlock()
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	ct := "vault:v1:" + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, pt, nil))
	writeResponse(w, http.StatusOK, "transit", map[string]any{"ciphertext": ct, "key_version": 1}, nil)
}

func (s *Server) decrypt(w http.ResponseWriter, key, ciphertext string) {
	if ciphertext == "" {
		writeErrors(w, http.StatusBadRequest, "missing ciphertext to decrypt")
		return
	}
	s.mu.Lock()
	aead := s.transit[key]
	s.mu.Unlock()
	if aead == nil {
		writeErrors(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	rest, ok := strings.CutPrefix(ciphertext, "vault:")
	if !ok {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: no prefix")
		return
	}
	ver, body, ok := strings.Cut(rest, ":")
	if !ok || !strings.HasPrefix(ver, "v") {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: wrong number of fields")
		return
	}
	if ver != "v1" {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: version is too new")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: could not decode base64")
		return
	}
	n := aead.NonceSize()
	if len(raw) < n+aead.Overhead() {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: size is too small")
		return
	}
	pt, err := aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "cipher: message authentication failed")
		return
	}
	writeResponse(w, http.StatusOK, "transit", map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}, nil)
}

func newKey() cipher.AEAD {
	k := make([]byte, 32)
	rand.Read(k)
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	return aead
}
