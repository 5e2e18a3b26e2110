package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/inopsio/spine/keys"
)

func TestMasterKeyFile(t *testing.T) {
	t.Setenv(keys.MasterKeyEnv, "")
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "master.key")
	first, err := keys.LoadLocalKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		path string
		want fs.FileMode
	}{{filepath.Dir(path), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != p.want {
			t.Errorf("%s has mode %04o, want %04o", p.path, fi.Mode().Perm(), p.want)
		}
	}
	again, err := keys.LoadLocalKEK(path)
	if err != nil || again.ID() != first.ID() {
		t.Fatalf("reloaded KEK %v, %v; want the same key %s", again, err, first.ID())
	}
	// The file holds base64, the same form as $SPINE_MASTER_KEY.
	text, _ := os.ReadFile(path)
	master, err := keys.ParseMasterKey(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if fromEnv, _ := keys.NewLocalKEK(master); fromEnv.ID() != first.ID() {
		t.Error("the key file's text does not parse to the same key")
	}

	for _, mode := range []fs.FileMode{0o640, 0o604, 0o644, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.LoadLocalKEK(path); !errors.Is(err, keys.ErrInsecureKeyFile) {
			t.Errorf("mode %04o: %v, want ErrInsecureKeyFile", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadLocalKEK(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

// TestMasterKeyFileRace: processes starting together on an empty data dir
// agree on one master key.
func TestMasterKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, err := keys.LoadLocalKEK(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("KEK IDs differ: %v", ids)
		}
	}
}

// TestOpenChoosesTheMasterKey: Config.MasterKey, then $SPINE_MASTER_KEY,
// then the key file.
func TestOpenChoosesTheMasterKey(t *testing.T) {
	ctx := context.Background()
	envKey := masterKey(t)
	envKEK, _ := keys.NewLocalKEK(envKey)
	cfgKey := masterKey(t)
	cfgKEK, _ := keys.NewLocalKEK(cfgKey)
	tests := []struct {
		name     string
		env      string
		master   []byte
		wantID   string // "" = the generated file's
		wantFile bool
		wantErr  bool
	}{
		{"file when nothing is set", "", nil, "", true, false},
		{"env, standard base64", base64.StdEncoding.EncodeToString(envKey), nil, envKEK.ID(), false, false},
		{"env, URL base64 unpadded", base64.RawURLEncoding.EncodeToString(envKey), nil, envKEK.ID(), false, false},
		{"config wins over env", base64.StdEncoding.EncodeToString(envKey), cfgKey, cfgKEK.ID(), false, false},
		{"env not base64", "not base64!", nil, "", false, true},
		{"env 16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), nil, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(keys.MasterKeyEnv, tc.env)
			dir := t.TempDir()
			k, err := keys.Open(ctx, keys.Config{DataDir: dir, MasterKey: tc.master})
			if tc.wantErr {
				if err == nil {
					_ = k.Close()
					t.Fatal("Open succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			_, statErr := os.Stat(filepath.Join(dir, "keys", "master.key"))
			if (statErr == nil) != tc.wantFile {
				t.Errorf("master.key exists: %v, want %v", statErr == nil, tc.wantFile)
			}
			if tc.wantID != "" && k.KEKID() != tc.wantID {
				t.Errorf("KEK %s, want %s", k.KEKID(), tc.wantID)
			}
			// The default store is the file store in the data dir.
			if _, _, err := k.Current(ctx, tenantA); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(dir, "keys", "keyring.json"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("keyring.json: %v, %v", fi, err)
			}
		})
	}
}

// TestLocalKEKVector unwraps a wrapped key kept in testdata: the wrapped
// format and the AAD may not change without a migration.
func TestLocalKEKVector(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "local_kek_vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Master, Tenant, Wrapped, DEK, AAD, ID string
		Version                               int
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	master, _ := hex.DecodeString(v.Master)
	wrapped, _ := hex.DecodeString(v.Wrapped)
	kek, err := keys.NewLocalKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(keys.AAD(v.Tenant, v.Version)); got != v.AAD {
		t.Errorf("AAD = %q, want %q", got, v.AAD)
	}
	if kek.ID() != v.ID {
		t.Errorf("ID = %s, want %s", kek.ID(), v.ID)
	}
	dek, err := kek.Unwrap(context.Background(), wrapped, keys.AAD(v.Tenant, v.Version))
	if err != nil || hex.EncodeToString(dek) != v.DEK {
		t.Fatalf("Unwrap = %x, %v; want %s", dek, err, v.DEK)
	}
	if _, err := kek.Unwrap(context.Background(), wrapped, keys.AAD(v.Tenant, v.Version+1)); err == nil {
		t.Error("unwrapped with another version's AAD")
	}
}

func TestLocalKEKRoundTrip(t *testing.T) {
	ctx := context.Background()
	kek, _ := keys.NewLocalKEK(masterKey(t))
	dek := masterKey(t)
	a, _ := kek.Wrap(ctx, dek, keys.AAD(tenantA, 1))
	b, _ := kek.Wrap(ctx, dek, keys.AAD(tenantA, 1))
	if bytes.Equal(a, b) {
		t.Error("two wraps of one key are equal: the nonce is not random")
	}
	if len(a) != 1+12+32+16 {
		t.Errorf("wrapped key is %d bytes, want 61", len(a))
	}
	got, err := kek.Unwrap(ctx, b, keys.AAD(tenantA, 1))
	if err != nil || !bytes.Equal(got, dek) {
		t.Errorf("Unwrap = %v", err)
	}
}

func TestAAD(t *testing.T) {
	tests := []struct {
		tenant  string
		version int
		want    string
	}{
		{tenantA, 1, "spine.keys.v1:36:" + tenantA + ":1"},
		{"a:1", 2, "spine.keys.v1:3:a:1:2"},
		{"a", 12, "spine.keys.v1:1:a:12"},
	}
	for _, tc := range tests {
		if got := string(keys.AAD(tc.tenant, tc.version)); got != tc.want {
			t.Errorf("AAD(%q, %d) = %q, want %q", tc.tenant, tc.version, got, tc.want)
		}
	}
	// Tenant and version are never confused.
	if bytes.Equal(keys.AAD("a:1", 2), keys.AAD("a", 12)) {
		t.Error("AADs collide")
	}
}
