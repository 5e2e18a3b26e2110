package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"

	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/keys/transittest"
)

// These tests run against transittest, a faithful stand-in for Vault's
// Transit engine: Vault cannot run in this environment (see its package
// comment). The client is the official one, github.com/hashicorp/vault/api.

const vaultToken = "s.test-token"

func newTransit(t *testing.T, mount string) *transittest.Server {
	srv := transittest.NewServer(vaultToken, mount)
	t.Cleanup(srv.Close)
	srv.CreateKey("spine")
	return srv
}

func vaultKEK(t *testing.T, srv *transittest.Server, cfg keys.VaultConfig) *keys.VaultKEK {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = srv.URL
	}
	if cfg.Token == "" {
		cfg.Token = vaultToken
	}
	if cfg.Key == "" {
		cfg.Key = "spine"
	}
	k, err := keys.NewVaultKEK(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func TestVaultKeyring(t *testing.T) {
	ctx := context.Background()
	srv := newTransit(t, "")
	store := keys.NewMemoryStore()
	c := newClock()
	openVault := func() *keys.Keyring {
		k, err := keys.Open(ctx, keys.Config{Store: store, Now: c.Now, Vault: &keys.VaultConfig{Address: srv.URL, Token: vaultToken, Key: "spine"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k.Close() })
		return k
	}
	k := openVault()
	if k.KEKID() != "vault:transit/spine" {
		t.Errorf("KEK ID %q", k.KEKID())
	}
	v, key, err := k.Current(ctx, tenantA)
	if err != nil || v != 1 {
		t.Fatalf("Current = %d, %v", v, err)
	}
	rec, _ := store.Version(ctx, tenantA, 1)
	if !strings.HasPrefix(string(rec.Wrapped), "vault:v1:") || rec.KEK != "vault:transit/spine" {
		t.Errorf("stored %q by %q; want a Transit v1 ciphertext", rec.Wrapped[:9], rec.KEK)
	}
	// What Vault received: the key to wrap, bound to tenant and version.
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/transit/encrypt/spine" {
		t.Fatalf("requests %+v", reqs)
	}
	if ad := reqs[0].Body["associated_data"]; ad != base64.StdEncoding.EncodeToString(keys.AAD(tenantA, 1)) {
		t.Errorf("associated_data %v", ad)
	}
	// Another process (cold cache) decrypts through Vault.
	got, err := openVault().Get(ctx, tenantA, 1)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Get through Vault = %v", err)
	}
	if reqs := srv.Requests(); reqs[len(reqs)-1].Path != "/v1/transit/decrypt/spine" {
		t.Errorf("last request %s", reqs[len(reqs)-1].Path)
	}

	// Rotating the Transit key needs nothing from Spine: new DEKs are
	// wrapped by v2, old ones still unwrap.
	srv.RotateKey("spine")
	in, err := k.Rotate(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	rec2, _ := store.Version(ctx, tenantA, in.Version)
	if !strings.HasPrefix(string(rec2.Wrapped), "vault:v2:") {
		t.Errorf("after the Transit rotation, wrapped %q", rec2.Wrapped[:9])
	}
	fresh := openVault()
	for _, v := range []int{1, 2} {
		if _, err := fresh.Get(ctx, tenantA, v); err != nil {
			t.Errorf("Get(%d) after the Transit rotation: %v", v, err)
		}
	}
	// min_decryption_version retires DEKs wrapped by v1.
	srv.SetMinDecryptionVersion("spine", 2)
	_, err = openVault().Get(ctx, tenantA, 1)
	var re *vault.ResponseError
	if !errors.Is(err, keys.ErrUnwrap) || !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		t.Errorf("v1 below min_decryption_version: %v", err)
	}
}

// TestVaultErrors: every Vault refusal reaches the caller as ErrUnwrap (or
// a wrap error) with Vault's *api.ResponseError inside.
func TestVaultErrors(t *testing.T) {
	ctx := context.Background()
	srv := newTransit(t, "")
	good := vaultKEK(t, srv, keys.VaultConfig{})
	dek := masterKey(t)
	wrapped, err := good.Wrap(ctx, dek, keys.AAD(tenantA, 1))
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(string(wrapped))
	body := flipped[len("vault:v1:"):]
	raw, _ := base64.StdEncoding.DecodeString(string(body))
	raw[len(raw)-1] ^= 1
	flipped = append([]byte("vault:v1:"), base64.StdEncoding.EncodeToString(raw)...)

	tests := []struct {
		name    string
		kek     *keys.VaultKEK
		wrapped []byte
		aad     []byte
		status  int
		message string
	}{
		{"wrong tenant in the AAD", good, wrapped, keys.AAD(tenantB, 1), 400, "cipher: message authentication failed"},
		{"wrong version in the AAD", good, wrapped, keys.AAD(tenantA, 2), 400, "cipher: message authentication failed"},
		{"tampered ciphertext", good, flipped, keys.AAD(tenantA, 1), 400, "cipher: message authentication failed"},
		{"not a Vault ciphertext", good, []byte("garbage"), keys.AAD(tenantA, 1), 400, "invalid ciphertext: no prefix"},
		{"version from the future", good, []byte("vault:v9:" + string(body)), keys.AAD(tenantA, 1), 400, "invalid ciphertext: version is too new"},
		{"bad token", vaultKEK(t, srv, keys.VaultConfig{Token: "s.wrong"}), wrapped, keys.AAD(tenantA, 1), 403, "permission denied"},
		{"unknown key", vaultKEK(t, srv, keys.VaultConfig{Key: "nope"}), wrapped, keys.AAD(tenantA, 1), 400, "encryption key not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.kek.Unwrap(ctx, tc.wrapped, tc.aad)
			var re *vault.ResponseError
			if !errors.As(err, &re) || got != nil {
				t.Fatalf("Unwrap = %x, %v; want a *api.ResponseError", got, err)
			}
			if re.StatusCode != tc.status || len(re.Errors) != 1 || !strings.Contains(re.Errors[0], tc.message) {
				t.Errorf("status %d, errors %q; want %d %q", re.StatusCode, re.Errors, tc.status, tc.message)
			}
		})
	}
	if got, err := good.Unwrap(ctx, wrapped, keys.AAD(tenantA, 1)); err != nil || !bytes.Equal(got, dek) {
		t.Errorf("the untouched ciphertext: %v", err)
	}
	// Wrapping fails as clearly.
	_, err = vaultKEK(t, srv, keys.VaultConfig{Token: "s.wrong"}).Wrap(ctx, dek, keys.AAD(tenantA, 1))
	var re *vault.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("Wrap with a bad token: %v", err)
	}
	if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(dek)) {
		t.Error("the error shows the DEK")
	}
}

func TestVaultConfig(t *testing.T) {
	srv := newTransit(t, "secret/transit")
	k := vaultKEK(t, srv, keys.VaultConfig{Mount: "/secret/transit/"})
	if k.ID() != "vault:secret/transit/spine" {
		t.Errorf("ID %s", k.ID())
	}
	if _, err := k.Wrap(context.Background(), masterKey(t), []byte("aad")); err != nil {
		t.Errorf("custom mount: %v", err)
	}
	t.Setenv("VAULT_TOKEN", "")
	for name, cfg := range map[string]keys.VaultConfig{
		"no key":       {Address: srv.URL, Token: vaultToken},
		"key with '/'": {Address: srv.URL, Token: vaultToken, Key: "a/b"},
		"no token":     {Address: srv.URL, Key: "spine"},
		"bad address":  {Address: "::not a url", Token: vaultToken, Key: "spine"},
	} {
		if k, err := keys.NewVaultKEK(cfg); err == nil {
			_ = k.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	// The token may come from the environment, as with the vault CLI.
	t.Setenv("VAULT_TOKEN", vaultToken)
	k, err := keys.NewVaultKEK(keys.VaultConfig{Address: srv.URL, Key: "spine", Mount: "secret/transit"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Wrap(context.Background(), masterKey(t), []byte("aad")); err != nil {
		t.Errorf("token from VAULT_TOKEN: %v", err)
	}
}
