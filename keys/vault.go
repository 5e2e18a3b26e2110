package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultConfig says which Vault Transit key wraps the DEKs.
type VaultConfig struct {
	// Address of Vault, "https://vault.example:8200". Empty: $VAULT_ADDR,
	// else Vault's default (https://127.0.0.1:8200).
	Address string
	// Token authenticates. Empty: $VAULT_TOKEN. Never logged.
	Token string
	// Key is the Transit key's name (required). It must be an AEAD key
	// (aes256-gcm96, the default type, aes128-gcm96 or chacha20-poly1305)
	// since associated data binds each DEK to its tenant and version.
	Key string
	// Mount is where the Transit engine is mounted; default "transit".
	Mount string
	// Timeout bounds each request; default 10s.
	Timeout time.Duration
}

// VaultKEK wraps DEKs with Vault's Transit engine: transit/encrypt/<key>
// and transit/decrypt/<key>, passing AAD(tenant, version) as
// associated_data (Vault ≥ 1.13, and OpenBao). The KEK never leaves Vault;
// rotating it (transit/keys/<key>/rotate) needs nothing from Spine, since
// each wrapped DEK carries its Transit key version ("vault:v3:…") and old
// versions decrypt until min_decryption_version says otherwise. Before
// raising min_decryption_version, Rewrap moves the stored DEKs to the
// newest version (VaultKEK is a VersionedKEK).
//
// The token needs update on <mount>/encrypt/<key> and <mount>/decrypt/<key>.
// Spine's tests run it against keys/transittest, a stand-in for Transit,
// because Vault cannot run in the test environment; it has not been run
// against a real Vault yet.
// Errors from Vault are wrapped as *api.ResponseError (errors.As), with the
// status and Vault's messages; those never contain the DEK.
type VaultKEK struct {
	client           *vault.Client
	http             *http.Client
	encrypt, decrypt string
	id               string
}

var _ KEK = (*VaultKEK)(nil)

// NewVaultKEK returns a VaultKEK; it does not contact Vault.
func NewVaultKEK(cfg VaultConfig) (*VaultKEK, error) {
	if cfg.Key == "" {
		return nil, errors.New("keys: vault: no Transit key name")
	}
	if strings.ContainsAny(cfg.Key, "/?#") {
		return nil, fmt.Errorf("keys: vault: Transit key name %q holds a '/', '?' or '#'", cfg.Key)
	}
	mount := strings.Trim(cfg.Mount, "/")
	if mount == "" {
		mount = "transit"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	conf := vault.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("keys: vault: %w", conf.Error)
	}
	if cfg.Address != "" {
		conf.Address = cfg.Address
	}
	conf.Timeout = cfg.Timeout
	client, err := vault.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("keys: vault: %w", err)
	}
	if cfg.Token != "" {
		client.SetToken(cfg.Token)
	}
	if client.Token() == "" {
		return nil, errors.New("keys: vault: no token (set VAULT_TOKEN)")
	}
	return &VaultKEK{
		client:  client,
		http:    conf.HttpClient,
		encrypt: mount + "/encrypt/" + cfg.Key,
		decrypt: mount + "/decrypt/" + cfg.Key,
		id:      "vault:" + mount + "/" + cfg.Key,
	}, nil
}

// ID implements KEK: "vault:<mount>/<key>".
func (v *VaultKEK) ID() string { return v.id }

// Wrap implements KEK. The result is Vault's ciphertext, "vault:vN:…".
func (v *VaultKEK) Wrap(ctx context.Context, dek, aad []byte) ([]byte, error) {
	s, err := v.client.Logical().WriteWithContext(ctx, v.encrypt, map[string]any{
		"plaintext":       base64.StdEncoding.EncodeToString(dek),
		"associated_data": base64.StdEncoding.EncodeToString(aad),
	})
	if err != nil {
		return nil, fmt.Errorf("keys: vault %s: %w", v.encrypt, err)
	}
	ct, ok := field(s, "ciphertext")
	if !ok || !strings.HasPrefix(ct, "vault:v") {
		return nil, fmt.Errorf("keys: vault %s: the response has no ciphertext", v.encrypt)
	}
	return []byte(ct), nil
}

// Unwrap implements KEK.
func (v *VaultKEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	s, err := v.client.Logical().WriteWithContext(ctx, v.decrypt, map[string]any{
		"ciphertext":      string(wrapped),
		"associated_data": base64.StdEncoding.EncodeToString(aad),
	})
	if err != nil {
		return nil, fmt.Errorf("keys: vault %s: %w", v.decrypt, err)
	}
	pt, ok := field(s, "plaintext")
	if !ok {
		return nil, fmt.Errorf("keys: vault %s: the response has no plaintext", v.decrypt)
	}
	dek, err := base64.StdEncoding.DecodeString(pt)
	if err != nil {
		return nil, fmt.Errorf("keys: vault %s: plaintext is not base64", v.decrypt)
	}
	return dek, nil
}

var _ VersionedKEK = (*VaultKEK)(nil)

// WrappedVersion implements VersionedKEK: the N of "vault:vN:…" (Vault
// reads v0, from before key versions, as 1).
func (v *VaultKEK) WrappedVersion(wrapped []byte) (int, error) {
	rest, ok := bytes.CutPrefix(wrapped, []byte("vault:v"))
	digits, _, found := bytes.Cut(rest, []byte(":"))
	if !ok || !found || len(digits) == 0 || len(digits) > 9 {
		return 0, fmt.Errorf("keys: vault: the wrapped key is not a Transit ciphertext (vault:vN:…)")
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("keys: vault: the wrapped key's Transit version is not a number")
		}
		n = n*10 + int(c-'0')
	}
	return max(n, 1), nil
}

// LatestVersion implements VersionedKEK. It encrypts a probe (zeros, under
// associated data that no DEK has) and reads the version Vault used: that
// needs only the encrypt capability Wrap needs, where reading
// <mount>/keys/<key> would need one more.
func (v *VaultKEK) LatestVersion(ctx context.Context) (int, error) {
	ct, err := v.Wrap(ctx, make([]byte, DEKSize), []byte("spine.keys.version-probe"))
	if err != nil {
		return 0, err
	}
	return v.WrappedVersion(ct)
}

// Close releases idle connections to Vault.
func (v *VaultKEK) Close() error {
	v.http.CloseIdleConnections()
	return nil
}

// field reads a string from a response's data (nil on a 404 without body).
func field(s *vault.Secret, name string) (string, bool) {
	if s == nil || s.Data == nil {
		return "", false
	}
	v, ok := s.Data[name].(string)
	return v, ok
}
