// Package transittest is a stand-in for Vault's Transit secrets engine, for
// tests of code that wraps keys with Vault (keys.VaultKEK).
//
// Vault cannot run in Spine's test environment (its binaries are not
// downloadable there, and OpenBao does not `go install`), so this server
// implements the part of the Transit HTTP API that Spine uses, as Vault
// 1.13+ does it:
//
//   - PUT or POST /v1/<mount>/encrypt/<key> with "plaintext" (base64) and
//     optional "associated_data" (base64) returns data.ciphertext
//     "vault:v<N>:<base64(12-byte nonce || AES-256-GCM ciphertext || tag)>"
//     under the key's latest version N, and data.key_version.
//   - PUT or POST /v1/<mount>/decrypt/<key> with "ciphertext" and the same
//     "associated_data" returns data.plaintext (base64).
//   - PUT or POST /v1/<mount>/rewrap/<key> with "ciphertext" returns
//     data.ciphertext re-encrypted under the key's latest version, and
//     data.key_version, without revealing the plaintext. As in Vault
//     (hashicorp/vault#29532 and #31791; pull request #31842 to change it
//     was still open in March 2026), rewrap takes no "associated_data": it
//     decrypts and encrypts with none, so a ciphertext made with
//     associated data fails to rewrap ("cipher: message authentication
//     failed"). Whoever binds ciphertexts to associated data, as
//     keys.VaultKEK does, must decrypt and encrypt again instead. The
//     parameter is ignored (Vault ignores unknown parameters, with a
//     warning this server does not send).
//
// Errors are Vault's: 403 {"errors":["1 error occurred:\n\t* permission
// denied\n\n"]} for a missing or wrong X-Vault-Token; 400 {"errors":[…]}
// with Vault's messages for an unknown key ("encryption key not found"), a
// missing plaintext, bad base64, a malformed ciphertext ("invalid
// ciphertext: no prefix", "… wrong number of fields", "… version number
// could not be decoded", "… version is too new", "… could not decode
// base64"), a version below min_decryption_version and a failed
// authentication ("cipher: message authentication failed"). Keys are
// AES-256-GCM, not derived; they are not created on first encrypt (as
// with a token without "create" capability).
//
// What it does not do: batch_input, convergent encryption, derived keys
// (context), key_version on encrypt or rewrap, other key types, key
// management endpoints. Tests that need
// Vault itself must run against a real one.
package transittest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// Server is a fake Vault serving Transit on one mount.
type Server struct {
	*httptest.Server
	token string
	mount string

	mu       sync.Mutex
	keys     map[string]*key
	requests []Request
}

// Request is what a client sent, for assertions.
type Request struct {
	Method, Path string
	Body         map[string]any
}

type key struct {
	versions      [][]byte // versions[i] is version i+1
	minDecryption int
}

// NewServer starts a server that accepts token on mount ("transit" if
// empty). Close it when done.
func NewServer(token, mount string) *Server {
	if mount == "" {
		mount = "transit"
	}
	s := &Server{token: token, mount: strings.Trim(mount, "/"), keys: map[string]*key{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// CreateKey creates an aes256-gcm96 key named name, with version 1.
func (s *Server) CreateKey(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[name]; !ok {
		s.keys[name] = &key{versions: [][]byte{randomKey()}, minDecryption: 1}
	}
}

// RotateKey adds a version to the key, as transit/keys/<name>/rotate does.
func (s *Server) RotateKey(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[name]
	k.versions = append(k.versions, randomKey())
}

// SetMinDecryptionVersion refuses to decrypt ciphertexts of older versions,
// as transit/keys/<name>/config min_decryption_version does.
func (s *Server) SetMinDecryptionVersion(name string, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].minDecryption = v
}

// Requests returns the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func randomKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		vaultError(w, http.StatusMethodNotAllowed, "unsupported operation")
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		vaultError(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Body: body})
	s.mu.Unlock()
	if r.Header.Get("X-Vault-Token") != s.token || s.token == "" {
		vaultError(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
		return
	}
	op, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"+s.mount+"/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/v1/"+s.mount+"/") || !ok || strings.Contains(name, "/") {
		vaultError(w, http.StatusNotFound, "no handler for route \""+strings.TrimPrefix(r.URL.Path, "/v1/")+"\". route entry not found.")
		return
	}
	var data map[string]any
	var err error
	switch op {
	case "encrypt":
		data, err = s.encrypt(name, body)
	case "decrypt":
		data, err = s.decrypt(name, body)
	case "rewrap":
		data, err = s.rewrap(name, body)
	default:
		vaultError(w, http.StatusNotFound, "unsupported path")
		return
	}
	var ue userError
	switch {
	case errors.As(err, &ue):
		vaultError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		vaultError(w, http.StatusInternalServerError, "1 error occurred:\n\t* "+err.Error()+"\n\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"request_id": "00000000-0000-0000-0000-000000000000", "lease_id": "", "renewable": false,
		"lease_duration": 0, "data": data, "wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

// userError is a 400 with Vault's message.
type userError string

func (e userError) Error() string { return string(e) }

func str(body map[string]any, name string) string {
	v, _ := body[name].(string)
	return v
}

func (s *Server) aead(name string, version int) (cipher.AEAD, error) {
	k := s.keys[name]
	block, err := aes.NewCipher(k.versions[version-1])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func associatedData(body map[string]any) ([]byte, error) {
	ad := str(body, "associated_data")
	if ad == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(ad)
	if err != nil {
		return nil, userError(err.Error())
	}
	return b, nil
}

func (s *Server) encrypt(name string, body map[string]any) (map[string]any, error) {
	pt, ok := body["plaintext"].(string)
	if !ok {
		return nil, userError("missing plaintext to encrypt")
	}
	plain, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, userError(err.Error())
	}
	ad, err := associatedData(body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[name]; !ok {
		return nil, userError("encryption key not found")
	}
	return s.sealLocked(name, plain, ad)
}

func (s *Server) decrypt(name string, body map[string]any) (map[string]any, error) {
	value, ok := body["ciphertext"].(string)
	if !ok {
		return nil, userError("missing ciphertext to decrypt")
	}
	ad, err := associatedData(body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plain, err := s.openLocked(name, value, ad)
	if err != nil {
		return nil, err
	}
	return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)}, nil
}

// rewrap is Vault's: no associated data on either side (see the package
// comment).
func (s *Server) rewrap(name string, body map[string]any) (map[string]any, error) {
	value, ok := body["ciphertext"].(string)
	if !ok || value == "" {
		return nil, userError("missing ciphertext to decrypt")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plain, err := s.openLocked(name, value, nil)
	if err != nil {
		return nil, err
	}
	return s.sealLocked(name, plain, nil)
}

// sealLocked encrypts under the latest version of an existing key.
func (s *Server) sealLocked(name string, plain, ad []byte) (map[string]any, error) {
	version := len(s.keys[name].versions)
	aead, err := s.aead(name, version)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := aead.Seal(nonce, nonce, plain, ad)
	return map[string]any{
		"ciphertext":  "vault:v" + strconv.Itoa(version) + ":" + base64.StdEncoding.EncodeToString(ct),
		"key_version": version,
	}, nil
}

// openLocked decrypts a "vault:vN:…" ciphertext, with Vault's checks and
// messages.
func (s *Server) openLocked(name, value string, ad []byte) ([]byte, error) {
	k, ok := s.keys[name]
	if !ok {
		return nil, userError("encryption key not found")
	}
	if !strings.HasPrefix(value, "vault:v") {
		return nil, userError("invalid ciphertext: no prefix")
	}
	parts := strings.SplitN(strings.TrimPrefix(value, "vault:v"), ":", 2)
	if len(parts) != 2 {
		return nil, userError("invalid ciphertext: wrong number of fields")
	}
	version, err := strconv.Atoi(parts[0])
	if err != nil {
		return nil, userError("invalid ciphertext: version number could not be decoded")
	}
	if version == 0 {
		version = 1 // Vault reads v0 as v1 (pre-versioning ciphertexts)
	}
	switch {
	case version < 0 || version > len(k.versions):
		return nil, userError("invalid ciphertext: version is too new")
	case version < k.minDecryption:
		return nil, userError("ciphertext or signature version is disallowed by policy (too old)")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, userError("invalid ciphertext: could not decode base64")
	}
	aead, err := s.aead(name, version)
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, userError("invalid ciphertext: nonce length")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], ad)
	if err != nil {
		return nil, userError(err.Error()) // "cipher: message authentication failed"
	}
	return plain, nil
}

func vaultError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}
