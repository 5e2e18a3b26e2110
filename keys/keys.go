package keys

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// DEKSize is the length of a data key: AES-256.
const DEKSize = 32

// Errors callers decide on (errors.Is).
var (
	// ErrUnknownVersion: the tenant never had this key version.
	ErrUnknownVersion = errors.New("keys: unknown key version")
	// ErrShredded: the key version existed and was destroyed by Shred; what
	// it encrypted can never be decrypted again.
	ErrShredded = errors.New("keys: key shredded")
	// ErrUnknownTenant: Rotate or Shred named a tenant that has no keys.
	ErrUnknownTenant = errors.New("keys: tenant has no keys")
	// ErrInvalidTenant: a tenant ID that is empty, longer than
	// MaxTenantLen, not UTF-8 or holding control characters.
	ErrInvalidTenant = errors.New("keys: invalid tenant ID")
	// ErrUnwrap wraps every failure to unwrap a stored DEK: a tampered or
	// misplaced wrapped key, the wrong KEK, a KMS refusal. The KMS's own
	// error is wrapped too (errors.As a *api.ResponseError for Vault).
	ErrUnwrap = errors.New("keys: cannot unwrap data key")
	// ErrInsecureKeyFile: the master key file can be read by group or
	// others.
	ErrInsecureKeyFile = errors.New("keys: master key file is readable by group or others")
	// ErrConflict: Store.Rewrap found the record changed since it was
	// read (another rewrap, or a restore); nothing was written.
	ErrConflict = errors.New("keys: key record changed meanwhile")
)

// MaxTenantLen bounds a tenant ID in bytes (Spine's are UUIDs: 36).
const MaxTenantLen = 256

// State is where a key version is in its life.
type State string

// The states of a key version.
const (
	// Active: the tenant's newest version, used to encrypt.
	Active State = "active"
	// Retired: replaced by a newer version; still decrypts.
	Retired State = "retired"
	// Shredded: destroyed; decrypts nothing.
	Shredded State = "shredded"
)

// Info describes a key version without its key.
type Info struct {
	Tenant  string    `json:"tenant"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Expires is when the version is due to be replaced: Created plus the
	// rotation period. A retired version may have been replaced earlier
	// (a forced rotation or a shred).
	Expires time.Time `json:"expires"`
	State   State     `json:"state"`
	// KEK is the ID of the key-encryption key that wrapped it ("" once
	// shredded).
	KEK string `json:"kek"`
	// ShreddedAt is when it was shredded (zero unless State is Shredded).
	ShreddedAt time.Time `json:"shredded_at,omitzero"`
}

// Record is a key version as a Store keeps it.
type Record struct {
	Tenant  string
	Version int // 1, 2, 3…
	Created time.Time
	// KEK is the ID of the key-encryption key that wrapped the DEK.
	KEK string
	// Wrapped is the DEK encrypted by the KEK; nil once shredded.
	Wrapped []byte
	// Shredded is when the DEK was destroyed; zero while it exists.
	Shredded time.Time
}

// IsShredded reports whether the record is a tombstone.
func (r Record) IsShredded() bool { return !r.Shredded.IsZero() }

// check is what every store requires of a record it keeps.
func (r Record) check() error {
	if err := checkTenant(r.Tenant); err != nil {
		return err
	}
	switch {
	case r.Version < 1:
		return fmt.Errorf("keys: tenant %q: version %d: versions start at 1", r.Tenant, r.Version)
	case r.Created.IsZero():
		return fmt.Errorf("keys: tenant %q version %d: no creation time", r.Tenant, r.Version)
	case r.IsShredded() != (len(r.Wrapped) == 0):
		return fmt.Errorf("keys: tenant %q version %d: a record has a wrapped key or is shredded, not both or neither", r.Tenant, r.Version)
	case !r.IsShredded() && r.KEK == "":
		return fmt.Errorf("keys: tenant %q version %d: no KEK ID", r.Tenant, r.Version)
	}
	return nil
}

// checkTenant validates a tenant ID; IDs reach file names of logs, JSON and
// SQL, so control characters are refused.
func checkTenant(tenant string) error {
	switch {
	case tenant == "":
		return fmt.Errorf("%w: empty", ErrInvalidTenant)
	case len(tenant) > MaxTenantLen:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidTenant, len(tenant), MaxTenantLen)
	case !utf8.ValidString(tenant):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidTenant)
	}
	for _, r := range tenant {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q holds a control character", ErrInvalidTenant, tenant)
		}
	}
	return nil
}

// AAD is the associated data that binds a wrapped DEK to its tenant and
// version: "spine.keys.v1:" <len(tenant)> ":" <tenant> ":" <version>. The
// length prefix keeps it unambiguous whatever the tenant holds. Exported so
// that tools (and other languages) can unwrap a store's keys.
func AAD(tenant string, version int) []byte {
	b := make([]byte, 0, 32+len(tenant))
	b = append(b, "spine.keys.v1:"...)
	b = strconv.AppendInt(b, int64(len(tenant)), 10)
	b = append(b, ':')
	b = append(b, tenant...)
	b = append(b, ':')
	return strconv.AppendInt(b, int64(version), 10)
}
