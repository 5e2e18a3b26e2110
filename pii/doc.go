// Package pii encrypts, decrypts and redacts the personal data in event
// payloads: the string fields the catalog's schemas tag
// "confluent:tags": ["PII"] (spec §9: PII travels AES-GCM encrypted).
//
// Only those fields are encrypted, each on its own, in place: the payload
// stays a JSON object with the same keys in the same order and the same bytes
// outside the PII values, so routing, the partition key, schema validation
// of the other fields and DLQ tooling work without keys. An encrypted field
// is the JSON string
//
//	"spine:pii:v1:<key version>:<base64url(nonce || ciphertext || tag)>"
//
// sealed with AES-256-GCM under the tenant's current key, with a fresh random
// 96-bit nonce, and with additional data that binds the tenant, the event id,
// the event name, the field path and the key version. A value copied into
// another tenant's event, another event or another field therefore fails to
// open (ErrTampered) instead of decrypting to the wrong person's data.
// docs/wire-format.md ("PII encryption") specifies the bytes; testdata holds
// golden vectors another language can check itself against.
//
// Keys come from the Keys interface (package keys implements it over Vault):
// one key per tenant and version, rotated by adding versions. A ciphertext
// names its key version, so old events stay readable after a rotation, and
// destroying a tenant's keys (crypto-shredding) makes its PII unreadable in
// every topic, retry and dead letter at once. The Cipher holds no key
// material between calls for that reason: a shredded key stops working on
// the next call.
//
// Errors never carry plaintext or key bytes: a field failure is a
// *FieldError naming the field path, wrapping ErrTampered, ErrMalformed,
// ErrNotString or the key store's error.
package pii
