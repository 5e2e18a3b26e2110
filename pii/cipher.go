package pii

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/inopsio/spine/catalog"
)

// Keys is the key store the Cipher reads tenant keys from; package keys
// implements it. Keys are 32 bytes (AES-256). Errors are passed through
// wrapped, so errors.Is finds the store's sentinels (keys.ErrShredded,
// keys.ErrUnknownVersion).
type Keys interface {
	// Current returns the tenant's key for new ciphertexts and its version.
	Current(ctx context.Context, tenant string) (version int, key []byte, err error)
	// Get returns the tenant's key of the given version.
	Get(ctx context.Context, tenant string, version int) ([]byte, error)
}

// Cipher encrypts and decrypts the PII fields of catalog events. It holds
// no keys and is safe for concurrent use.
type Cipher struct {
	keys   Keys
	rand   io.Reader
	events map[string]*eventPaths
	states sync.Pool // *state
}

// eventPaths holds the PII trees of one event's schema versions; a version
// without PII maps to nil.
type eventPaths struct {
	current  string
	versions map[string]*node
}

// Option configures a Cipher.
type Option func(*Cipher)

// WithRand sets the source of nonces (default crypto/rand.Reader). Only
// tests should set it, to make golden vectors reproducible: a nonce used
// twice under one key breaks AES-GCM. It must be safe for concurrent use if
// the Cipher is.
func WithRand(r io.Reader) Option { return func(c *Cipher) { c.rand = r } }

// New returns a Cipher for the events of cat, reading keys from k.
func New(cat *catalog.Catalog, k Keys, opts ...Option) (*Cipher, error) {
	if cat == nil || k == nil {
		return nil, errors.New("pii: New needs a catalog and a key store")
	}
	c := &Cipher{keys: k, rand: rand.Reader, events: map[string]*eventPaths{}}
	c.states.New = func() any { return new(state) }
	for _, o := range opts {
		o(c)
	}
	for _, e := range cat.Events() {
		ep := &eventPaths{current: e.Current().Version, versions: map[string]*node{}}
		for _, sv := range e.Versions {
			tree, err := buildTree(sv.Schema, sv.PII)
			if err != nil {
				return nil, fmt.Errorf("pii: %s %s: %w", e.Name, sv.Version, err)
			}
			ep.versions[sv.Version] = tree
		}
		c.events[e.Name] = ep
	}
	return c, nil
}

// HasPII reports whether version of eventName ("" = the current version)
// has PII fields. Records of such events carry the codec.HeaderEncryption
// header with HeaderValue once encrypted, whether or not this payload holds
// any of the (optional) PII fields.
func (c *Cipher) HasPII(eventName, version string) (bool, error) {
	root, err := c.paths(eventName, version)
	return root != nil, err
}

func (c *Cipher) paths(eventName, version string) (*node, error) {
	e, ok := c.events[eventName]
	if !ok {
		return nil, &catalog.UnknownEventError{Name: eventName}
	}
	if version == "" {
		version = e.current
	}
	root, ok := e.versions[version]
	if !ok {
		return nil, fmt.Errorf("pii: %s: unknown schema version %q", eventName, version)
	}
	return root, nil
}

func checkIDs(tenantID, eventID string) error {
	if tenantID == "" || eventID == "" {
		return errors.New("tenant id and event id are required: they are bound into every ciphertext")
	}
	return nil
}

func (c *Cipher) state() *state { return c.states.Get().(*state) }

// find is how Encrypt and Decrypt (op) begin: the PII paths of the event's
// version, the ids checked, the payload scanned for PII values. A nil state
// means there is nothing to do: no PII fields, or none present. Callers
// release the state.
func (c *Cipher) find(op, eventName, version, tenantID, eventID string, payload []byte) (*state, error) {
	root, err := c.paths(eventName, version)
	if err != nil || root == nil {
		return nil, err
	}
	if err := checkIDs(tenantID, eventID); err != nil {
		return nil, fmt.Errorf("pii: %s %s: %w", op, eventName, err)
	}
	st := c.state()
	if err := st.scan(payload, root); err != nil {
		c.release(st)
		return nil, fmt.Errorf("pii: %s %s: %w", op, eventName, err)
	}
	if len(st.spans) == 0 {
		c.release(st)
		return nil, nil
	}
	return st, nil
}

func (c *Cipher) release(st *state) {
	st.reset()
	c.states.Put(st)
}

// Encrypt returns payload with the string value of every PII field of
// version of eventName ("" = current) replaced by its ciphertext string,
// sealed under tenantID's current key and bound to tenantID, eventID (the
// header's event_id), eventName and the field's path. Every other byte is
// kept as it is. A payload without PII fields, or an event without any, is
// returned as is (not copied).
//
// Validate the plaintext payload first: Encrypt checks only that the
// payload is a strict JSON object and that PII values are strings. A value
// that already looks like a ciphertext is encrypted again, not skipped, so
// a payload cannot smuggle a ciphertext from elsewhere past the producer.
func (c *Cipher) Encrypt(ctx context.Context, eventName, version, tenantID, eventID string, payload []byte) ([]byte, error) {
	st, err := c.find("encrypt", eventName, version, tenantID, eventID, payload)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return payload, nil
	}
	defer c.release(st)
	size := len(payload)
	for _, sp := range st.spans {
		if sp.kind != '"' {
			return nil, fmt.Errorf("pii: encrypt %s: %w", eventName, &FieldError{Path: sp.field.path, Err: ErrNotString})
		}
		size += encodedLen(sp.end-sp.start-2) - (sp.end - sp.start)
	}
	keyVersion, key, err := c.keys.Current(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("pii: encrypt %s: current key of tenant %s: %w", eventName, tenantID, err)
	}
	if keyVersion < 0 || keyVersion > MaxKeyVersion {
		return nil, fmt.Errorf("pii: encrypt %s: key store returned version %d for tenant %s, outside 0..%d", eventName, keyVersion, tenantID, MaxKeyVersion)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("pii: encrypt %s: key version %d of tenant %s: %w", eventName, keyVersion, tenantID, err)
	}
	out := make([]byte, 0, size)
	prev := 0
	for _, sp := range st.spans {
		plain := st.unquote(payload[sp.start:sp.end])
		st.aad = appendAAD(st.aad[:0], tenantID, eventID, eventName, sp.field.path, keyVersion)
		out = append(out, payload[prev:sp.start]...)
		if out, st.sealed, err = appendCiphertext(out, st.sealed, aead, c.rand, keyVersion, plain, st.aad); err != nil {
			return nil, fmt.Errorf("pii: encrypt %s: %w", eventName, err)
		}
		prev = sp.end
	}
	return append(out, payload[prev:]...), nil
}

// Decrypt is the inverse of Encrypt: it returns payload with every PII
// field's ciphertext string replaced by its plaintext as a JSON string, with
// the same tenantID, eventID and eventName that Encrypt was given. Each
// field's key version is read from its ciphertext, so payloads sealed before
// a key rotation still open.
//
// It fails, on the first field in payload order that does, with a
// *FieldError wrapping ErrMalformed (a PII value that is not a ciphertext
// string: plaintext on the wire is an error, not a pass-through),
// ErrTampered, or the key store's error (keys.ErrShredded,
// keys.ErrUnknownVersion). A payload without PII fields is returned as is.
func (c *Cipher) Decrypt(ctx context.Context, eventName, version, tenantID, eventID string, payload []byte) ([]byte, error) {
	st, err := c.find("decrypt", eventName, version, tenantID, eventID, payload)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return payload, nil
	}
	defer c.release(st)
	out := make([]byte, 0, len(payload))
	prev, keyVersion := 0, -1
	var aead cipher.AEAD
	for _, sp := range st.spans {
		fail := func(err error) error {
			return fmt.Errorf("pii: decrypt %s: %w", eventName, &FieldError{Path: sp.field.path, Err: err})
		}
		if sp.kind != '"' {
			return nil, fail(fmt.Errorf("%w: value is not a JSON string", ErrMalformed))
		}
		kv, sealed, err := parseCiphertext(st.unquote(payload[sp.start:sp.end]), st.sealed[:0])
		if err != nil {
			return nil, fail(err)
		}
		st.sealed = sealed
		if kv != keyVersion {
			key, err := c.keys.Get(ctx, tenantID, kv)
			if err != nil {
				return nil, fail(fmt.Errorf("key version %d of tenant %s: %w", kv, tenantID, err))
			}
			if aead, err = newAEAD(key); err != nil {
				return nil, fail(fmt.Errorf("key version %d of tenant %s: %w", kv, tenantID, err))
			}
			keyVersion = kv
		}
		st.aad = appendAAD(st.aad[:0], tenantID, eventID, eventName, sp.field.path, kv)
		plain, err := aead.Open(st.plain[:0], sealed[:NonceSize], sealed[NonceSize:], st.aad)
		if err != nil {
			return nil, fail(ErrTampered)
		}
		st.plain = plain
		out = append(out, payload[prev:sp.start]...)
		if out, err = jsontext.AppendQuote(out, plain); err != nil {
			return nil, fail(fmt.Errorf("%w: decrypted value is not UTF-8", ErrMalformed))
		}
		prev = sp.end
	}
	return append(out, payload[prev:]...), nil
}

// Redact returns payload with every PII value, plaintext or ciphertext and
// of whatever JSON type, replaced by the string "[PII]" (Redacted), for logs
// and diagnostics. It needs no keys. A payload that is not a strict JSON
// object fails with ErrInvalidPayload: log nothing of it then, since where
// its PII lies cannot be known.
func (c *Cipher) Redact(eventName, version string, payload []byte) ([]byte, error) {
	root, err := c.paths(eventName, version)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return payload, nil
	}
	st := c.state()
	defer c.release(st)
	if err := st.scan(payload, root); err != nil {
		return nil, fmt.Errorf("pii: redact %s: %w", eventName, err)
	}
	if len(st.spans) == 0 {
		return payload, nil
	}
	out := make([]byte, 0, len(payload)+len(st.spans)*(len(Redacted)+2))
	prev := 0
	for _, sp := range st.spans {
		out = append(out, payload[prev:sp.start]...)
		out = append(out, '"')
		out = append(out, Redacted...)
		out = append(out, '"')
		prev = sp.end
	}
	return append(out, payload[prev:]...), nil
}
