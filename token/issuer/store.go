package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/inopsio/spine/token"
)

// Files under <dataDir>/issuer (directory 0700, files 0600).
const (
	DirName         = "issuer"
	keysFile        = "keys.json"        // private signing keys: only `spine dev` reads it
	credentialsFile = "credentials.json" // URL and client secrets: every spine command may read it
)

// ErrNoIssuer is returned by LoadCredentials when the data dir holds no
// issuer state (no `spine dev` has run on it).
var ErrNoIssuer = errors.New("issuer: no dev issuer in the data dir")

// Credentials are what a process needs to obtain tokens from a dev issuer:
// its URL and the client secrets. Secrets are token.Secret so that printing
// or logging Credentials shows none of them.
type Credentials struct {
	URL     string
	Clients map[string]token.Secret
}

// ClientIDs returns the client ids, sorted.
func (c Credentials) ClientIDs() []string {
	ids := make([]string, 0, len(c.Clients))
	for id := range c.Clients {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// SourceConfig returns the token.SourceConfig for client: Issuer, ClientID
// and ClientSecret filled in, the rest at its defaults.
func (c Credentials) SourceConfig(client string) (token.SourceConfig, error) {
	sec, ok := c.Clients[client]
	if !ok {
		return token.SourceConfig{}, fmt.Errorf("%w %q at issuer %s (known: %q)", ErrUnknownClient, client, c.URL, c.ClientIDs())
	}
	return token.SourceConfig{Issuer: c.URL, ClientID: client, ClientSecret: sec}, nil
}

// credentialsJSON is credentials.json.
type credentialsJSON struct {
	URL     string            `json:"url"`
	Clients map[string]string `json:"clients"`
}

func (is *Issuer) credentialsLocked() Credentials {
	c := Credentials{URL: is.cfg.URL, Clients: make(map[string]token.Secret, len(is.secrets))}
	for id, s := range is.secrets {
		c.Clients[id] = token.Secret(s)
	}
	return c
}

// Open loads the issuer state under <dataDir>/issuer, creating what is
// missing: an RSA-2048 and an EC P-256 signing key, and a secret for each of
// cfg.Clients. Clients created earlier keep their secrets. It records
// cfg.URL, so LoadCredentials in any other process sharing the data dir
// finds the issuer and the secrets. One process at a time should Open a
// data dir (`spine dev`); readers use LoadCredentials.
func Open(dataDir string, cfg Config) (*Issuer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, DirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone, and umask may have
	// widened nothing but the caller may have: enforce it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	is := newIssuer(cfg, dir)

	found, err := readJSON(filepath.Join(dir, keysFile), &is.keys)
	if err != nil {
		return nil, err
	}
	if found {
		if err := is.keys.validate(); err != nil {
			return nil, fmt.Errorf("issuer: %s: %w", filepath.Join(dir, keysFile), err)
		}
	}
	changed, err := is.keys.ensure(RS256, ES256)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := is.saveKeys(); err != nil {
			return nil, err
		}
	}

	var cj credentialsJSON
	if _, err := readJSON(filepath.Join(dir, credentialsFile), &cj); err != nil {
		return nil, err
	}
	for id, s := range cj.Clients {
		if !clientIDPattern.MatchString(id) || s == "" {
			return nil, fmt.Errorf("issuer: %s: invalid client entry %q", filepath.Join(dir, credentialsFile), id)
		}
		is.setSecret(id, s)
	}
	for _, id := range cfg.Clients {
		if _, ok := is.secrets[id]; ok {
			continue
		}
		s, err := newSecret()
		if err != nil {
			return nil, err
		}
		is.setSecret(id, s)
	}
	if err := is.saveCredentials(); err != nil {
		return nil, err
	}
	return is, nil
}

// LoadCredentials reads the dev issuer's URL and client secrets from
// <dataDir>/issuer, as recorded by the last Open. It is how a spine command
// given only the data dir builds a token.Source:
//
//	creds, err := issuer.LoadCredentials(dataDir)
//	cfg, err := creds.SourceConfig("crm-service")
//	src, err := token.NewSource(ctx, cfg)
func LoadCredentials(dataDir string) (Credentials, error) {
	path := filepath.Join(dataDir, DirName, credentialsFile)
	var cj credentialsJSON
	found, err := readJSON(path, &cj)
	if err != nil {
		return Credentials{}, err
	}
	if !found {
		return Credentials{}, fmt.Errorf("%w: %s does not exist (start `spine dev` with this data dir first)", ErrNoIssuer, path)
	}
	if cj.URL == "" {
		return Credentials{}, fmt.Errorf("issuer: %s: no url", path)
	}
	c := Credentials{URL: cj.URL, Clients: make(map[string]token.Secret, len(cj.Clients))}
	for id, s := range cj.Clients {
		c.Clients[id] = token.Secret(s)
	}
	return c, nil
}

// saveKeys writes keys.json; callers hold mu (or own is exclusively).
func (is *Issuer) saveKeys() error {
	if is.dir == "" {
		return nil
	}
	return writeJSON0600(filepath.Join(is.dir, keysFile), &is.keys)
}

// saveCredentials writes credentials.json; callers hold mu (or own is).
func (is *Issuer) saveCredentials() error {
	if is.dir == "" {
		return nil
	}
	return writeJSON0600(filepath.Join(is.dir, credentialsFile), credentialsJSON{URL: is.cfg.URL, Clients: is.secrets})
}

// readJSON decodes path into v; found is false when it does not exist. A
// file readable by others is tightened to 0600 first.
func readJSON(path string, v any) (found bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("issuer: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return false, fmt.Errorf("issuer: %s has mode %v and cannot be made 0600: %w", path, fi.Mode().Perm(), err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("issuer: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("issuer: %s: %w", path, err)
	}
	return true, nil
}

// writeJSON0600 replaces path atomically (temp file, fsync, rename) with a
// 0600 file, so a reader never sees half a file.
func writeJSON0600(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("issuer: encoding %s: %w", filepath.Base(path), err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("issuer: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("issuer: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("issuer: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("issuer: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	return nil
}
