package transittest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/inopsio/spine/keys/transittest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// call sends one request the way Vault's HTTP API takes it.
func call(t *testing.T, srv *transittest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON", method, path, raw)
	}
	return resp.StatusCode, out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestWireFormat(t *testing.T) {
	srv := transittest.NewServer("root", "")
	defer srv.Close()
	srv.CreateKey("k")
	ad := b64("tenant-1:v1")

	status, resp := call(t, srv, http.MethodPut, "/v1/transit/encrypt/k", "root", map[string]any{"plaintext": b64("secret"), "associated_data": ad})
	data, _ := resp["data"].(map[string]any)
	ct, _ := data["ciphertext"].(string)
	if status != 200 || !regexp.MustCompile(`^vault:v1:[A-Za-z0-9+/]+=*$`).MatchString(ct) || data["key_version"] != 1.0 {
		t.Fatalf("encrypt: %d %v", status, resp)
	}
	raw, _ := base64.StdEncoding.DecodeString(ct[len("vault:v1:"):])
	if len(raw) != 12+len("secret")+16 {
		t.Errorf("ciphertext body is %d bytes, want nonce(12) + 6 + tag(16)", len(raw))
	}

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   map[string]any
		status int
		want   any // data.plaintext, or the errors array
	}{
		{"decrypt", http.MethodPost, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": ct, "associated_data": ad}, 200, b64("secret")},
		{"other associated data", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": ct, "associated_data": b64("tenant-2:v1")}, 400, "cipher: message authentication failed"},
		{"no associated data", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": ct}, 400, "cipher: message authentication failed"},
		{"no token", http.MethodPut, "/v1/transit/decrypt/k", "", map[string]any{"ciphertext": ct}, 403, "1 error occurred:\n\t* permission denied\n\n"},
		{"unknown key", http.MethodPut, "/v1/transit/decrypt/nope", "root", map[string]any{"ciphertext": ct}, 400, "encryption key not found"},
		{"no prefix", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": "abc"}, 400, "invalid ciphertext: no prefix"},
		{"one field", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": "vault:v1"}, 400, "invalid ciphertext: wrong number of fields"},
		{"bad version", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": "vault:vX:AAAA"}, 400, "invalid ciphertext: version number could not be decoded"},
		{"future version", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": "vault:v2:AAAA"}, 400, "invalid ciphertext: version is too new"},
		{"bad base64", http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": "vault:v1:!!"}, 400, "invalid ciphertext: could not decode base64"},
		{"missing plaintext", http.MethodPut, "/v1/transit/encrypt/k", "root", map[string]any{}, 400, "missing plaintext to encrypt"},
		{"other mount", http.MethodPut, "/v1/kv/encrypt/k", "root", map[string]any{"plaintext": ""}, 404, "no handler for route \"kv/encrypt/k\". route entry not found."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			var got any
			if status == 200 {
				got = resp["data"].(map[string]any)["plaintext"]
			} else if errs, ok := resp["errors"].([]any); ok && len(errs) == 1 {
				got = errs[0]
			}
			if status != tc.status || got != tc.want {
				t.Errorf("%d %q, want %d %q (response %v)", status, got, tc.status, tc.want, resp)
			}
		})
	}

	// A rotated key encrypts with v2 and still decrypts v1, until
	// min_decryption_version moves.
	srv.RotateKey("k")
	_, resp = call(t, srv, http.MethodPut, "/v1/transit/encrypt/k", "root", map[string]any{"plaintext": b64("x")})
	if ct2 := resp["data"].(map[string]any)["ciphertext"].(string); ct2[:9] != "vault:v2:" {
		t.Errorf("after rotation: %s", ct2)
	}
	if status, _ := call(t, srv, http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": ct, "associated_data": ad}); status != 200 {
		t.Errorf("v1 after rotation: %d", status)
	}
	srv.SetMinDecryptionVersion("k", 2)
	status, resp = call(t, srv, http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": ct, "associated_data": ad})
	if status != 400 || resp["errors"].([]any)[0] != "ciphertext or signature version is disallowed by policy (too old)" {
		t.Errorf("v1 below min_decryption_version: %d %v", status, resp)
	}
}

// TestRewrap: Vault's rewrap moves a ciphertext to the latest version
// without the plaintext, and, like Vault's, takes no associated data: a
// ciphertext bound to associated data does not rewrap, which is why
// keys.VaultKEK decrypts and encrypts again instead.
func TestRewrap(t *testing.T) {
	srv := transittest.NewServer("root", "")
	defer srv.Close()
	srv.CreateKey("k")
	encrypt := func(ad string) string {
		body := map[string]any{"plaintext": b64("secret")}
		if ad != "" {
			body["associated_data"] = b64(ad)
		}
		_, resp := call(t, srv, http.MethodPut, "/v1/transit/encrypt/k", "root", body)
		return resp["data"].(map[string]any)["ciphertext"].(string)
	}
	plainV1, boundV1 := encrypt(""), encrypt("tenant-1:v1")
	srv.RotateKey("k")
	srv.RotateKey("k")

	tests := []struct {
		name   string
		body   map[string]any
		status int
		want   string // ciphertext prefix, or the error
	}{
		{"without associated data", map[string]any{"ciphertext": plainV1}, 200, "vault:v3:"},
		{"bound to associated data", map[string]any{"ciphertext": boundV1}, 400, "cipher: message authentication failed"},
		{"associated data is ignored", map[string]any{"ciphertext": boundV1, "associated_data": b64("tenant-1:v1")}, 400, "cipher: message authentication failed"},
		{"no ciphertext", map[string]any{}, 400, "missing ciphertext to decrypt"},
		{"not a ciphertext", map[string]any{"ciphertext": "abc"}, 400, "invalid ciphertext: no prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := call(t, srv, http.MethodPost, "/v1/transit/rewrap/k", "root", tc.body)
			var got string
			if status == 200 {
				data := resp["data"].(map[string]any)
				got = data["ciphertext"].(string)
				if data["key_version"] != 3.0 {
					t.Errorf("key_version %v, want 3", data["key_version"])
				}
			} else if errs, ok := resp["errors"].([]any); ok && len(errs) == 1 {
				got, _ = errs[0].(string)
			}
			if status != tc.status || !strings.HasPrefix(got, tc.want) {
				t.Fatalf("%d %q, want %d %q", status, got, tc.status, tc.want)
			}
			if status != 200 {
				return
			}
			// The rewrapped ciphertext decrypts to the same plaintext, and
			// the response never carried it.
			if _, leaked := resp["data"].(map[string]any)["plaintext"]; leaked {
				t.Error("rewrap returned the plaintext")
			}
			status, resp = call(t, srv, http.MethodPut, "/v1/transit/decrypt/k", "root", map[string]any{"ciphertext": got})
			if status != 200 || resp["data"].(map[string]any)["plaintext"] != b64("secret") {
				t.Errorf("decrypt the rewrapped ciphertext: %d %v", status, resp)
			}
		})
	}
}
