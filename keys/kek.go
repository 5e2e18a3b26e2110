package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEK is a key-encryption key: it wraps DEKs and unwraps them, binding each
// to aad (see AAD). Implementations are safe for concurrent use.
type KEK interface {
	// Wrap encrypts dek; the result unwraps only with the same aad.
	Wrap(ctx context.Context, dek, aad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned, checking aad.
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
	// ID names the key (not its bytes) so that stored DEKs say which KEK
	// wrapped them: "local:<fingerprint>", "vault:<mount>/<key>".
	ID() string
}

// MasterKeyEnv is the variable that holds the local master key, base64.
const MasterKeyEnv = "SPINE_MASTER_KEY"

// localFormat is the first byte of a LocalKEK wrapped key, so that the
// layout can change without guessing.
const localFormat = 1

// LocalKEK is AES-256-GCM under a master key held by this machine: the
// embedded default, for development and single-machine use. A wrapped key
// is 0x01 || 12-byte nonce || ciphertext || 16-byte tag.
type LocalKEK struct {
	aead cipher.AEAD
	id   string
}

var _ KEK = (*LocalKEK)(nil)

// NewLocalKEK returns a LocalKEK with the 32-byte master key.
func NewLocalKEK(master []byte) (*LocalKEK, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("keys: master key is %d bytes, want 32 (AES-256)", len(master))
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	// The fingerprint is a hash of the key under a fixed label: it tells
	// keys apart and reveals nothing of a random 256-bit key.
	sum := sha256.Sum256(append([]byte("spine.keys.kek-id.v1:"), master...))
	return &LocalKEK{aead: aead, id: "local:" + hex.EncodeToString(sum[:8])}, nil
}

// ParseMasterKey decodes a master key written in base64 (standard or URL
// alphabet, padded or not), as in $SPINE_MASTER_KEY or master.key.
func ParseMasterKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(text); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("keys: master key is %d bytes, want 32 (AES-256)", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("keys: master key is not base64")
}

// LoadLocalKEK reads the master key file at path, or creates it with a new
// random key when it does not exist (its directory 0700, the file 0600).
// A key file that group or others may read is refused (ErrInsecureKeyFile):
// whoever reads it reads every tenant's PII.
func LoadLocalKEK(path string) (*LocalKEK, error) {
	master, err := readMasterKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		master, err = createMasterKey(path)
	}
	if err != nil {
		return nil, err
	}
	return NewLocalKEK(master)
}

// ReadLocalKEK reads the master key file at path, like LoadLocalKEK, but
// never creates it: for a key that must already exist, such as the target
// of a rewrap (a typo in the path must not mint a key).
func ReadLocalKEK(path string) (*LocalKEK, error) {
	master, err := readMasterKey(path)
	if err != nil {
		return nil, err
	}
	return NewLocalKEK(master)
}

func readMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrInsecureKeyFile, path, perm, path)
	}
	text, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("keys: master key %s: %w", path, err)
	}
	k, err := ParseMasterKey(string(text))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// createMasterKey writes a new key to path, unless another process did
// first: the key goes to a temporary file that is then hard-linked to path,
// which fails if path exists, so every process ends up with the same key.
func createMasterKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".master.key-*")
	if err != nil {
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; Chmod states it.
	werr := tmp.Chmod(0o600)
	if werr == nil {
		_, werr = tmp.WriteString(base64.StdEncoding.EncodeToString(master) + "\n")
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("keys: master key: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readMasterKey(path)
		}
		return nil, fmt.Errorf("keys: master key: %w", err)
	}
	syncDir(dir)
	return master, nil
}

// ID implements KEK.
func (k *LocalKEK) ID() string { return k.id }

// Wrap implements KEK.
func (k *LocalKEK) Wrap(_ context.Context, dek, aad []byte) ([]byte, error) {
	out := make([]byte, 1+k.aead.NonceSize(), 1+k.aead.NonceSize()+len(dek)+k.aead.Overhead())
	out[0] = localFormat
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("keys: wrap: %w", err)
	}
	return k.aead.Seal(out, out[1:], dek, aad), nil
}

// Unwrap implements KEK.
func (k *LocalKEK) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(wrapped) < 1+ns+k.aead.Overhead() || wrapped[0] != localFormat {
		return nil, errors.New("keys: local KEK: malformed wrapped key")
	}
	dek, err := k.aead.Open(nil, wrapped[1:1+ns], wrapped[1+ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("keys: local KEK: %w", err)
	}
	return dek, nil
}

// syncDir makes a rename or link in dir durable; best effort (some file
// systems refuse to sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
