package pii

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// The encoded form of one encrypted field; docs/wire-format.md ("PII
// encryption") is the specification.
const (
	// Prefix starts every ciphertext string. The version in it names the
	// whole scheme (AES-256-GCM, the AAD layout, the encoding): a new scheme
	// gets a new prefix, never a new meaning for this one.
	Prefix = "spine:pii:v1:"
	// HeaderValue is the value of the codec.HeaderEncryption
	// ("spine-encryption") header on a record whose payload's PII fields are
	// ciphertext strings in this form.
	HeaderValue = "aes-256-gcm;v1"
	// Redacted replaces PII values in Redact's output.
	Redacted = "[PII]"

	// KeySize is the key length Keys must return: AES-256.
	KeySize = 32
	// NonceSize and TagSize are the AES-GCM nonce and tag lengths used.
	NonceSize = 12
	TagSize   = 16
	// MaxKeyVersion bounds key versions, so every reader can hold one in a
	// signed 32-bit integer.
	MaxKeyVersion = math.MaxInt32

	// aadTag separates this scheme's additional data from any other use of
	// the same key.
	aadTag = "spine-pii-v1"
	// minBody is the base64url length of an empty plaintext's nonce and tag.
	minBody = ((NonceSize+TagSize)*8 + 5) / 6
)

// b64 decodes strictly: no padding and zero trailing bits, so one byte
// string has exactly one encoding. (Line breaks, which encoding/base64
// skips, are refused by the character check before it runs.)
var b64 = base64.RawURLEncoding.Strict()

// IsCiphertext reports whether s is a well-formed ciphertext string: the
// prefix, a key version in canonical decimal, and base64url (no padding) of
// at least a nonce and a tag. It says nothing about authenticity: only
// Decrypt, with the key, can.
func IsCiphertext(s string) bool {
	_, _, err := parseCiphertext([]byte(s), nil)
	return err == nil
}

// parseCiphertext splits a ciphertext string into its key version and
// sealed bytes (nonce || ciphertext || tag), appended to dst. Its errors
// wrap ErrMalformed and never quote the input, which may be plaintext that
// a producer forgot to encrypt.
func parseCiphertext(s, dst []byte) (version int, sealed []byte, err error) {
	rest, ok := bytes.CutPrefix(s, []byte(Prefix))
	if !ok {
		return 0, nil, fmt.Errorf("%w: does not start with %q", ErrMalformed, Prefix)
	}
	colon := bytes.IndexByte(rest, ':')
	if colon < 0 {
		return 0, nil, fmt.Errorf("%w: no ':' after the key version", ErrMalformed)
	}
	digits, body := rest[:colon], rest[colon+1:]
	if version, ok = parseVersion(digits); !ok {
		return 0, nil, fmt.Errorf("%w: key version is not a decimal in 0..%d without leading zeros", ErrMalformed, MaxKeyVersion)
	}
	for _, c := range body {
		if !isBase64URL(c) {
			return 0, nil, fmt.Errorf("%w: body is not base64url without padding", ErrMalformed)
		}
	}
	if len(body) < minBody {
		return 0, nil, fmt.Errorf("%w: body shorter than a nonce and a tag", ErrMalformed)
	}
	if sealed, err = b64.AppendDecode(dst, body); err != nil {
		return 0, nil, fmt.Errorf("%w: body is not canonical base64url", ErrMalformed)
	}
	return version, sealed, nil
}

func parseVersion(d []byte) (int, bool) {
	if len(d) == 0 || len(d) > 10 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= MaxKeyVersion
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// appendAAD appends the additional data that binds a field's ciphertext to
// its place: the tag, then tenant, event id, event name and field path,
// each as a 4-byte big-endian length and its bytes, then the key version as
// 4 bytes big-endian. Lengths make it unambiguous whatever the strings hold.
func appendAAD(dst []byte, tenant, eventID, eventName, path string, version int) []byte {
	dst = append(dst, aadTag...)
	for _, s := range [...]string{tenant, eventID, eventName, path} {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(version))
}

// appendCiphertext seals plain and appends the ciphertext as a JSON string
// (quotes included: its characters never need escaping). scratch is reused
// for the sealed bytes and returned.
func appendCiphertext(dst, scratch []byte, aead cipher.AEAD, rand io.Reader, version int, plain, aad []byte) ([]byte, []byte, error) {
	scratch = grow(scratch[:0], NonceSize+len(plain)+TagSize)
	nonce := scratch[:NonceSize]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return dst, scratch, fmt.Errorf("pii: read nonce: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plain, aad)
	dst = append(dst, '"')
	dst = append(dst, Prefix...)
	dst = strconv.AppendInt(dst, int64(version), 10)
	dst = append(dst, ':')
	dst = b64.AppendEncode(dst, sealed)
	dst = append(dst, '"')
	return dst, sealed, nil
}

// encodedLen is the length of a ciphertext string, quotes included, for a
// plaintext of n bytes (an upper bound: the version may be shorter).
func encodedLen(n int) int {
	return 2 + len(Prefix) + 10 + 1 + b64.EncodedLen(NonceSize+n+TagSize)
}

// newAEAD builds AES-256-GCM for key. The key's bytes never enter an error.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("pii: key is %d bytes, want %d (AES-256)", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("pii: AES key setup failed")
	}
	return cipher.NewGCM(block)
}

// grow returns b with length n, reusing its array when large enough.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
