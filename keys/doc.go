// Package keys is Spine's keyring for envelope encryption of PII (spec §9):
// per-tenant data keys (DEKs), versioned, rotated every 90 days, each stored
// only wrapped (encrypted) by a key-encryption key (KEK) that lives in a KMS.
//
// # Why envelope encryption
//
// A DEK is 32 random bytes for AES-256-GCM, one per tenant and version. The
// pii package encrypts fields with (*Keyring).Current and decrypts with
// (*Keyring).Get, naming the version it finds on the record. Keeping one key
// per tenant makes crypto-shredding possible: Shred destroys a tenant's
// wrapped DEKs, after which none of its PII, wherever it was copied
// (topics, dead letters, backups of consumers), can be decrypted again,
// while other tenants are untouched. Wrapping by a KEK keeps the DEKs at
// rest useless without the KMS: a copy of the store is not a copy of the
// keys.
//
// # Parts
//
//   - KEK wraps and unwraps DEKs. LocalKEK is AES-256-GCM under a master
//     key from $SPINE_MASTER_KEY or <data dir>/keys/master.key (generated
//     0600 on first use, refused when group or others can read it).
//     VaultKEK uses Vault's Transit engine (transit/encrypt/<key>,
//     transit/decrypt/<key>) through the official client; the DEK never
//     reaches Vault's storage and the KEK never leaves Vault.
//   - Store keeps the wrapped DEKs. FileStore (<data dir>/keys/keyring.json,
//     flock-shared by the processes of one machine) is the embedded
//     default; PostgresStore (table spine_keys) is for production;
//     MemoryStore is for tests.
//   - Keyring ties them together, caches unwrapped DEKs and rotates.
//
// Every wrapped DEK is bound to its tenant and version by the AEAD's
// associated data (AAD): a wrapped key moved to another tenant's row, or to
// another version, does not unwrap. A wrapped key also records the ID of
// the KEK that wrapped it, so a changed master key is reported as such,
// not as corruption.
//
// # Versions, rotation, shredding
//
// Versions of a tenant are numbered 1, 2, 3… and never reused. Current
// returns the newest one and creates the next when the newest is older than
// Config.Rotation (90 days): rotation is lazy, done by whoever needs the key
// first, and RotateDue (`spine keys rotate`) does it for every tenant that
// is due, e.g. from cron. Creating a version is an insert-if-absent on
// (tenant, version) in the store, so processes sharing a store never create
// the same version twice: the loser of a race reads the winner's key.
// Older versions stay readable (Get) for the records encrypted with them.
//
// Shred replaces every wrapped DEK of a tenant with a tombstone: Get then
// fails with ErrShredded (not ErrUnknownVersion, so a consumer can tell
// "erased on purpose" from "corrupt"). A later Current starts a fresh
// version after the shredded ones. Shredding is only as complete as the
// store's deletion: PostgreSQL keeps dead row versions until VACUUM and in
// WAL archives and backups, a file system may keep old blocks; those copies
// are still wrapped, so destroying or rotating the KEK afterwards completes
// the erasure for them.
//
// # Re-wrapping: retiring a KEK
//
// Rotating the DEKs does not retire the KEK that wraps them. Rewrap
// ((*Keyring).Rewrap, `spine keys rewrap`) wraps every stored DEK anew
// with the keyring's KEK, so that an old or leaked master key can be
// destroyed, the local keyring moved to Vault, or, after a Transit key
// rotation, the old Transit versions disabled (min_decryption_version):
// for a VersionedKEK such as VaultKEK, DEKs wrapped by an older version of
// the same key are moved to the newest. The DEKs stay the same, so what
// they encrypted decrypts as before. Transit's own rewrap endpoint is not
// used: it takes no associated data, and every DEK here is bound to its
// tenant and version by associated data.
//
// Each version is swapped by Store.Rewrap, a compare-and-swap on the
// wrapped bytes that refuses a tombstone, so a rewrap never resurrects a
// shredded key nor overwrites a concurrent change; a run that stops
// halfway leaves each version wrapped by the KEK its record names, and
// the next run finishes (versions already wrapped by the target are
// skipped). A Keyring unwraps each DEK with the KEK its record names: its
// own, or one of Config.DecryptKEKs, which unwrap and never wrap. With
// the new KEK in Config.KEK and the old one in DecryptKEKs, services read
// every DEK while a rewrap runs; with only the old one, they fail on the
// versions already moved (ErrUnwrap, naming both KEK IDs) until they get
// the new one.
//
// # Cache
//
// Unwrapped DEKs are cached in memory for Config.CacheTTL (default one
// minute) so that a busy consumer does not call the KMS per record. The
// price: a Shred or a rotation done by another process takes effect in this
// process within the TTL (a Shred done through this Keyring takes effect
// at once). The cache is swept as it is used; no goroutine runs.
//
// # Audit
//
// With Config.Audit and Config.Actor set, every version created (first
// key, automatic and forced rotation) is recorded as action "keys.rotate",
// every Shred as "keys.shred", in the hash-chained audit trail (package
// audit), with the tenant and a detail naming versions and reason, and
// every Rewrap (not a dry run) as one "keys.rewrap" row without tenant,
// with the KEK IDs, the counts and the failed versions. Key bytes never
// appear in audit rows, logs, errors or List.
package keys
