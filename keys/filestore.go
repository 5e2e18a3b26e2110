package keys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// FileStore keeps the wrapped DEKs in one JSON file (keyring.json), the
// embedded default. Every operation takes an OS lock (flock) on a lock file
// beside it — shared to read, exclusive to change — and a change is written
// to a temporary file renamed over the old one, so several processes of one
// machine can share the store and a crash never leaves half a file. It is
// not for a network file system (flock there is unreliable): use
// PostgresStore to share keys between machines.
type FileStore struct {
	path string
	mu   sync.Mutex // flock does not exclude goroutines sharing lock
	lock *os.File
}

var _ Store = (*FileStore)(nil)

// OpenFileStore opens (and creates the directory of) the file store at
// path, <data dir>/keys/keyring.json by convention. The file itself is
// created by the first key.
func OpenFileStore(path string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keys: file store: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keys: file store: %w", err)
	}
	return &FileStore{path: path, lock: lock}, nil
}

// Path is the keyring file.
func (s *FileStore) Path() string { return s.path }

// Versions implements Store.
func (s *FileStore) Versions(ctx context.Context, tenant string) ([]Record, error) {
	recs, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	return cloneRecords(tenantRecords(recs, tenant)), nil
}

// Version implements Store.
func (s *FileStore) Version(ctx context.Context, tenant string, version int) (Record, error) {
	recs, err := s.read(ctx)
	if err != nil {
		return Record{}, err
	}
	return findVersion(tenantRecords(recs, tenant), tenant, version)
}

// Insert implements Store.
func (s *FileStore) Insert(ctx context.Context, rec Record) (bool, error) {
	if err := rec.check(); err != nil {
		return false, err
	}
	var inserted bool
	err := s.update(ctx, func(recs []Record) []Record {
		i, j := tenantRange(recs, rec.Tenant)
		var mine []Record
		mine, inserted = insertRecord(slices.Clone(recs[i:j]), rec)
		if !inserted {
			return nil
		}
		return slices.Concat(recs[:i], mine, recs[j:])
	})
	return inserted, err
}

// Shred implements Store.
func (s *FileStore) Shred(ctx context.Context, tenant string, at time.Time) ([]int, error) {
	var shredded []int
	err := s.update(ctx, func(recs []Record) []Record {
		i, j := tenantRange(recs, tenant)
		if shredded = shredRecords(recs[i:j], at); len(shredded) == 0 {
			return nil
		}
		return recs
	})
	return shredded, err
}

// Rewrap implements Store: the compare and the swap happen under the
// exclusive lock, so no other process changes the record in between.
func (s *FileStore) Rewrap(ctx context.Context, old Record, kek string, wrapped []byte) error {
	if err := checkRewrap(old, kek, wrapped); err != nil {
		return err
	}
	var rerr error
	err := s.update(ctx, func(recs []Record) []Record {
		i, j := tenantRange(recs, old.Tenant)
		if rerr = rewrapRecord(recs[i:j], old, kek, wrapped); rerr != nil {
			return nil
		}
		return recs
	})
	return errors.Join(err, rerr)
}

// All implements Store.
func (s *FileStore) All(ctx context.Context) ([]Record, error) { return s.read(ctx) }

// Close implements Store.
func (s *FileStore) Close() error { return s.lock.Close() }

// read returns the file's records under a shared lock.
func (s *FileStore) read(ctx context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := lockFile(ctx, s.lock, false); err != nil {
		return nil, fmt.Errorf("keys: file store %s: %w", s.path, err)
	}
	defer unlockFile(s.lock)
	return s.load()
}

// update applies change to the records under an exclusive lock and writes
// what it returns; nil means "nothing changed".
func (s *FileStore) update(ctx context.Context, change func([]Record) []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := lockFile(ctx, s.lock, true); err != nil {
		return fmt.Errorf("keys: file store %s: %w", s.path, err)
	}
	defer unlockFile(s.lock)
	recs, err := s.load()
	if err != nil {
		return err
	}
	next := change(recs)
	if next == nil {
		return nil
	}
	data, err := encodeKeyring(next)
	if err != nil {
		return fmt.Errorf("keys: file store %s: %w", s.path, err)
	}
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("keys: file store %s: %w", s.path, err)
	}
	return nil
}

func (s *FileStore) load() ([]Record, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: file store: %w", err)
	}
	recs, err := decodeKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("keys: file store %s: %w", s.path, err)
	}
	return recs, nil
}

// writeFileAtomic replaces path by data: readers see the old file or the
// new one, never a mix.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// tenantRange is where the tenant's records are in sorted recs.
func tenantRange(recs []Record, tenant string) (int, int) {
	i, _ := slices.BinarySearchFunc(recs, tenant, func(r Record, t string) int {
		switch {
		case r.Tenant < t:
			return -1
		case r.Tenant > t:
			return 1
		}
		return 0
	})
	j := i
	for j < len(recs) && recs[j].Tenant == tenant {
		j++
	}
	return i, j
}

func tenantRecords(recs []Record, tenant string) []Record {
	i, j := tenantRange(recs, tenant)
	return recs[i:j]
}

// keyringFormat names the file's layout; a reader refuses any other.
const keyringFormat = "spine.keys/1"

// keyringFile is keyring.json:
//
//	{"format": "spine.keys/1", "keys": [
//	  {"tenant": "…", "version": 1, "created": "RFC 3339", "kek": "local:…", "wrapped": "base64"},
//	  {"tenant": "…", "version": 2, "created": "…", "shredded": "RFC 3339"}]}
type keyringFile struct {
	Format string       `json:"format"`
	Keys   []keyringKey `json:"keys"`
}

type keyringKey struct {
	Tenant   string    `json:"tenant"`
	Version  int       `json:"version"`
	Created  time.Time `json:"created"`
	KEK      string    `json:"kek,omitempty"`
	Wrapped  []byte    `json:"wrapped,omitempty"`
	Shredded time.Time `json:"shredded,omitzero"`
}

// decodeKeyring parses keyring.json strictly: unknown or duplicate members,
// invalid UTF-8, trailing data, an invalid record or a version listed twice
// are errors. The records come back sorted by tenant and version.
func decodeKeyring(data []byte) ([]Record, error) {
	var f keyringFile
	if err := jsonv2.Unmarshal(data, &f, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("keyring file: %w", err)
	}
	if f.Format != keyringFormat {
		return nil, fmt.Errorf("keyring file: format %q, want %q", f.Format, keyringFormat)
	}
	recs := make([]Record, len(f.Keys))
	for i, k := range f.Keys {
		recs[i] = Record(k)
		if err := recs[i].check(); err != nil {
			return nil, fmt.Errorf("keyring file: key %d: %w", i, err)
		}
	}
	sortRecords(recs)
	for i := 1; i < len(recs); i++ {
		if recs[i].Tenant == recs[i-1].Tenant && recs[i].Version == recs[i-1].Version {
			return nil, fmt.Errorf("keyring file: tenant %q has version %d twice", recs[i].Tenant, recs[i].Version)
		}
	}
	return recs, nil
}

// encodeKeyring writes sorted records as keyring.json.
func encodeKeyring(recs []Record) ([]byte, error) {
	f := keyringFile{Format: keyringFormat, Keys: make([]keyringKey, len(recs))}
	for i, r := range recs {
		k := keyringKey(r)
		k.Created, k.Shredded = r.Created.UTC(), r.Shredded.UTC()
		f.Keys[i] = k
	}
	data, err := jsonv2.Marshal(f, jsontext.WithIndent("  "))
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
