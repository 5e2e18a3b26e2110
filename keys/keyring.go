package keys

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/inopsio/spine/audit"
)

// Defaults of Config.
const (
	DefaultDataDir  = ".spine"
	DefaultRotation = 90 * 24 * time.Hour // spec §9
	DefaultCacheTTL = time.Minute
)

// Config configures Open. The zero Config is a local keyring in ./.spine:
// a master key file and a file store, rotation every 90 days.
type Config struct {
	// DataDir holds keys/master.key and keys/keyring.json when they are
	// used; default ".spine".
	DataDir string
	// Rotation is how old the newest key of a tenant may get before the
	// next one is made; default 90 days.
	Rotation time.Duration
	// CacheTTL is how long an unwrapped DEK stays in memory; default one
	// minute, negative for no cache. A Shred or rotation made by another
	// process takes effect here within it.
	CacheTTL time.Duration
	// Now is the clock; default time.Now. Tests move it 90 days ahead.
	Now func() time.Time

	// KEK wraps the DEKs. Default: Vault Transit when Vault is set, else a
	// LocalKEK with MasterKey, else with $SPINE_MASTER_KEY (base64), else
	// with <DataDir>/keys/master.key (generated on first use).
	KEK       KEK
	Vault     *VaultConfig
	MasterKey []byte
	// DecryptKEKs unwrap, never wrap: the KEKs a migration moves away from
	// (see Rewrap). A stored DEK is unwrapped by the KEK whose ID it
	// records, so a keyring with the new KEK in KEK and the old one here
	// reads every DEK while `spine keys rewrap` runs, whichever of the two
	// wraps it at that moment. The Keyring does not close them.
	DecryptKEKs []KEK

	// Store keeps the wrapped DEKs. Default: a PostgresStore when
	// PostgresURL is set (table PostgresTable, default "spine_keys"), else
	// a FileStore at <DataDir>/keys/keyring.json.
	Store         Store
	PostgresURL   string
	PostgresTable string

	// Audit, with Actor, records every key version created and every
	// shred in the audit trail. Setting Audit without Actor is an error.
	// The Keyring does not close it.
	Audit audit.Store
	// Actor is who acts, for the audit trail: "user:alice", "service:crm".
	Actor string

	// Logger receives one line per key created or shredded; default
	// discards. Key bytes are never logged.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Rotation <= 0 {
		c.Rotation = DefaultRotation
	}
	switch {
	case c.CacheTTL == 0:
		c.CacheTTL = DefaultCacheTTL
	case c.CacheTTL < 0:
		c.CacheTTL = 0
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Keyring hands out per-tenant DEKs. It is safe for concurrent use, and
// several Keyrings (processes) may share one Store.
type Keyring struct {
	kek      KEK
	decrypt  []KEK // Config.DecryptKEKs
	store    Store
	cache    *cache
	flight   singleflight.Group
	rotation time.Duration
	now      func() time.Time
	log      *slog.Logger
	audit    audit.Store
	actor    string

	closeOnce sync.Once
	closers   []io.Closer // what Open opened
	closeErr  error
}

// Open returns a Keyring configured by cfg (see Config for the defaults).
// Close releases what Open opened.
func Open(ctx context.Context, cfg Config) (*Keyring, error) {
	cfg = cfg.withDefaults()
	if cfg.Audit != nil && cfg.Actor == "" {
		return nil, errors.New("keys: Config.Audit is set without Config.Actor: the audit trail needs who acts")
	}
	if i := slices.Index(cfg.DecryptKEKs, nil); i >= 0 {
		return nil, fmt.Errorf("keys: Config.DecryptKEKs[%d] is nil", i)
	}
	k := &Keyring{kek: cfg.KEK, decrypt: slices.Clone(cfg.DecryptKEKs), store: cfg.Store, cache: newCache(cfg.CacheTTL), rotation: cfg.Rotation,
		now: cfg.Now, log: cfg.Logger, audit: cfg.Audit, actor: cfg.Actor}
	var err error
	if k.kek == nil {
		k.kek, err = openKEK(cfg)
		if err != nil {
			return nil, err
		}
		if c, ok := k.kek.(io.Closer); ok {
			k.closers = append(k.closers, c)
		}
	}
	if k.store == nil {
		if cfg.PostgresURL != "" {
			k.store, err = OpenPostgresStore(ctx, cfg.PostgresURL, cfg.PostgresTable)
		} else {
			k.store, err = OpenFileStore(filepath.Join(cfg.DataDir, "keys", "keyring.json"))
		}
		if err != nil {
			_ = k.Close()
			return nil, err
		}
		k.closers = append(k.closers, k.store)
	}
	return k, nil
}

func openKEK(cfg Config) (KEK, error) {
	switch {
	case cfg.Vault != nil:
		return NewVaultKEK(*cfg.Vault)
	case cfg.MasterKey != nil:
		return NewLocalKEK(cfg.MasterKey)
	}
	if text := os.Getenv(MasterKeyEnv); text != "" {
		master, err := ParseMasterKey(text)
		if err != nil {
			return nil, fmt.Errorf("%w (in $%s)", err, MasterKeyEnv)
		}
		return NewLocalKEK(master)
	}
	return LoadLocalKEK(filepath.Join(cfg.DataDir, "keys", "master.key"))
}

// Close releases the store and KEK that Open opened (not Config.Store,
// Config.KEK or Config.Audit).
func (k *Keyring) Close() error {
	k.closeOnce.Do(func() {
		for _, c := range slices.Backward(k.closers) {
			k.closeErr = errors.Join(k.closeErr, c.Close())
		}
	})
	return k.closeErr
}

// KEKID names the key-encryption key in use.
func (k *Keyring) KEKID() string { return k.kek.ID() }

// Current returns the tenant's newest DEK and its version, to encrypt with.
// The first call for a tenant creates version 1; a call when the newest
// version is older than the rotation period creates the next one; if that
// fails (the KMS is unreachable), Current fails rather than go on
// encrypting with an overdue key. The key is the caller's copy.
func (k *Keyring) Current(ctx context.Context, tenant string) (version int, key []byte, err error) {
	if err := checkTenant(tenant); err != nil {
		return 0, nil, err
	}
	if v, key, ok := k.cache.getCurrent(tenant, k.now(), k.rotation); ok {
		return v, key, nil
	}
	res, err := k.shared(ctx, "current\x00"+tenant, func(ctx context.Context) (any, error) {
		return k.loadCurrent(ctx, tenant, reasonAutomatic)
	})
	if err != nil {
		return 0, nil, err
	}
	l := res.(loaded)
	return l.rec.Version, slices.Clone(l.key), nil
}

// Get returns the DEK of one version of the tenant's keys, to decrypt
// with: ErrUnknownVersion if it never existed, ErrShredded if it was
// shredded, ErrUnwrap if the KEK cannot unwrap it. The key is the
// caller's copy.
func (k *Keyring) Get(ctx context.Context, tenant string, version int) ([]byte, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if version < 1 {
		return nil, fmt.Errorf("%w: tenant %q has no version %d", ErrUnknownVersion, tenant, version)
	}
	if key, ok := k.cache.get(tenant, version, k.now()); ok {
		return key, nil
	}
	res, err := k.shared(ctx, "get\x00"+tenant+"\x00"+strconv.Itoa(version), func(ctx context.Context) (any, error) {
		gen := k.cache.generation(tenant)
		rec, err := k.store.Version(ctx, tenant, version)
		if err != nil {
			return nil, err
		}
		if rec.IsShredded() {
			return nil, fmt.Errorf("%w: tenant %q version %d was shredded at %s", ErrShredded, tenant, version, rec.Shredded.Format(time.RFC3339))
		}
		key, err := k.unwrap(ctx, rec)
		if err != nil {
			return nil, err
		}
		k.cache.put(rec, key, false, k.now(), gen)
		return key, nil
	})
	if err != nil {
		return nil, err
	}
	return slices.Clone(res.([]byte)), nil
}

// Rotate creates the tenant's next key version now, whatever the age of
// the newest, and returns it. If another process created that version in
// the meantime, that version is returned: either way the tenant has a new
// key. A tenant without keys is ErrUnknownTenant (Current creates the
// first).
func (k *Keyring) Rotate(ctx context.Context, tenant string) (Info, error) {
	if err := checkTenant(tenant); err != nil {
		return Info{}, err
	}
	recs, err := k.store.Versions(ctx, tenant)
	if err != nil {
		return Info{}, err
	}
	if len(recs) == 0 {
		return Info{}, fmt.Errorf("%w: %q", ErrUnknownTenant, tenant)
	}
	last := recs[len(recs)-1]
	rec, _, created, err := k.create(ctx, tenant, last, reasonRequested)
	if err != nil {
		return Info{}, err
	}
	if !created {
		if rec, err = k.store.Version(ctx, tenant, last.Version+1); err != nil {
			return Info{}, err
		}
	}
	return k.info(rec, Active), nil
}

// RotateDue creates the next version for every tenant whose newest key is
// older than the rotation period, and returns the versions it created.
// Shredded tenants are left alone. It goes on past a failing tenant and
// returns every failure, joined.
func (k *Keyring) RotateDue(ctx context.Context) ([]Info, error) {
	all, err := k.store.All(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	var out []Info
	var errs []error
	for _, newest := range newestByTenant(all) {
		if newest.IsShredded() || now.Before(newest.Created.Add(k.rotation)) {
			continue
		}
		res, err := k.shared(ctx, "current\x00"+newest.Tenant, func(ctx context.Context) (any, error) {
			return k.loadCurrent(ctx, newest.Tenant, reasonDue)
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if l := res.(loaded); l.created {
			out = append(out, k.info(l.rec, Active))
		}
	}
	return out, errors.Join(errs...)
}

// Shred destroys every wrapped DEK of the tenant (crypto-shredding: what
// they encrypted can never be decrypted again) and leaves tombstones, so
// that Get reports ErrShredded. reason is required, for the audit trail.
// Shredding a shredded tenant again changes nothing and succeeds; a tenant
// that never had keys is ErrUnknownTenant. The next Current for the tenant
// starts a fresh version after the shredded ones. Other processes drop
// their cached copies within Config.CacheTTL.
func (k *Keyring) Shred(ctx context.Context, tenant, reason string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("keys: shred needs a reason, for the audit trail")
	}
	recs, err := k.store.Versions(ctx, tenant)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownTenant, tenant)
	}
	versions, err := k.store.Shred(ctx, tenant, k.now().UTC().Truncate(time.Microsecond))
	k.cache.forget(tenant)
	if err != nil {
		return errors.Join(err, k.record(ctx, "keys.shred", tenant, "failed",
			map[string]any{"reason": reason, "error": err.Error()}))
	}
	if versions == nil {
		versions = []int{}
	}
	k.log.Info("keys: tenant shredded", "tenant", tenant, "versions", versions, "reason", reason)
	if err := k.record(ctx, "keys.shred", tenant, "shredded", map[string]any{"versions": versions, "reason": reason}); err != nil {
		return fmt.Errorf("keys: tenant %q is shredded, but the audit trail failed: %w", tenant, err)
	}
	return nil
}

// List describes every key version of every tenant, by tenant then
// version; never the keys.
func (k *Keyring) List(ctx context.Context) ([]Info, error) {
	all, err := k.store.All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(all))
	for i, r := range all {
		state := Retired
		switch {
		case r.IsShredded():
			state = Shredded
		case i == len(all)-1 || all[i+1].Tenant != r.Tenant:
			state = Active
		}
		out[i] = k.info(r, state)
	}
	return out, nil
}

func (k *Keyring) info(r Record, s State) Info {
	return Info{Tenant: r.Tenant, Version: r.Version, Created: r.Created, Expires: r.Created.Add(k.rotation),
		State: s, KEK: r.KEK, ShreddedAt: r.Shredded}
}

// Why a version is created, for logs and the audit trail.
const (
	reasonAutomatic = "automatic"               // Current found none, or the newest due
	reasonDue       = "rotation period elapsed" // RotateDue
	reasonRequested = "rotation requested"      // Rotate
	reasonFirst     = "first key"
	reasonShredded  = "previous keys shredded"
)

// loaded is the outcome of loadCurrent.
type loaded struct {
	rec     Record
	key     []byte
	created bool // by this call
}

// maxRaces bounds how often loadCurrent loses the race to create a version
// before giving up; each loss means another process made a fresh key.
const maxRaces = 5

// loadCurrent reads the tenant's newest version and returns it, or creates
// the next one when there is none usable. Losing the creation race to
// another process, it reads the winner's version.
func (k *Keyring) loadCurrent(ctx context.Context, tenant, why string) (loaded, error) {
	for range maxRaces {
		gen := k.cache.generation(tenant)
		recs, err := k.store.Versions(ctx, tenant)
		if err != nil {
			return loaded{}, err
		}
		now := k.now()
		var last Record
		if len(recs) > 0 {
			last = recs[len(recs)-1]
			if !last.IsShredded() && now.Before(last.Created.Add(k.rotation)) {
				key, err := k.unwrap(ctx, last)
				if err != nil {
					return loaded{}, err
				}
				k.cache.put(last, key, true, now, gen)
				return loaded{rec: last, key: key}, nil
			}
		}
		reason := why
		switch {
		case len(recs) == 0:
			reason = reasonFirst
		case last.IsShredded():
			reason = reasonShredded
		case why == reasonAutomatic:
			reason = reasonDue
		}
		rec, key, created, err := k.create(ctx, tenant, last, reason)
		if err != nil {
			return loaded{}, err
		}
		if created {
			return loaded{rec: rec, key: key, created: true}, nil
		}
	}
	return loaded{}, fmt.Errorf("keys: tenant %q: lost the race to create a key %d times", tenant, maxRaces)
}

// create makes version last.Version+1 of the tenant's keys (1 when last is
// the zero Record) and inserts it unless another writer did first
// (created false, no key). Creations, and failures of an explicit Rotate,
// are recorded in the audit trail; a failed audit fails an explicit Rotate
// and is logged for the others, which must not stop encryption.
func (k *Keyring) create(ctx context.Context, tenant string, last Record, reason string) (Record, []byte, bool, error) {
	version := last.Version + 1
	rec, dek, created, err := k.insertNew(ctx, tenant, version)
	explicit := reason == reasonRequested
	detail := map[string]any{"from": last.Version, "to": version, "reason": reason, "kek": k.kek.ID()}
	switch {
	case err != nil:
		if explicit {
			detail["error"] = err.Error()
			err = errors.Join(err, k.record(ctx, "keys.rotate", tenant, "failed", detail))
		}
		return Record{}, nil, false, err
	case !created:
		return rec, nil, false, nil
	}
	k.log.Info("keys: key version created", "tenant", tenant, "version", version, "reason", reason, "kek", k.kek.ID())
	if aerr := k.record(ctx, "keys.rotate", tenant, "rotated", detail); aerr != nil {
		if explicit {
			return rec, dek, true, fmt.Errorf("keys: tenant %q version %d is created, but the audit trail failed: %w", tenant, version, aerr)
		}
		k.log.Error("keys: audit trail failed", "tenant", tenant, "version", version, "err", aerr)
	}
	return rec, dek, true, nil
}

func (k *Keyring) insertNew(ctx context.Context, tenant string, version int) (Record, []byte, bool, error) {
	dek := make([]byte, DEKSize)
	if _, err := rand.Read(dek); err != nil {
		return Record{}, nil, false, fmt.Errorf("keys: new key: %w", err)
	}
	wrapped, err := k.kek.Wrap(ctx, dek, AAD(tenant, version))
	if err != nil {
		return Record{}, nil, false, fmt.Errorf("keys: wrap tenant %q version %d: %w", tenant, version, err)
	}
	// Microseconds: what PostgreSQL keeps, so every store agrees.
	now := k.now()
	rec := Record{Tenant: tenant, Version: version, Created: now.UTC().Truncate(time.Microsecond), KEK: k.kek.ID(), Wrapped: wrapped}
	gen := k.cache.generation(tenant)
	ok, err := k.store.Insert(ctx, rec)
	if err != nil || !ok {
		clear(dek)
		return rec, nil, false, err
	}
	k.cache.forgetCurrent(tenant)
	k.cache.put(rec, dek, true, now, gen)
	return rec, dek, true, nil
}

// kekFor picks the KEK that wrapped rec, by the ID the record keeps: the
// keyring's own or one of Config.DecryptKEKs.
func (k *Keyring) kekFor(rec Record) (KEK, error) {
	if rec.KEK == k.kek.ID() {
		return k.kek, nil
	}
	for _, d := range k.decrypt {
		if rec.KEK == d.ID() {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: tenant %q version %d was wrapped by KEK %q; this keyring has %s",
		ErrUnwrap, rec.Tenant, rec.Version, rec.KEK, k.kekIDs())
}

// kekIDs names the keyring's KEKs for errors: `"local:…"`, or `"vault:…"
// and, to unwrap only, "local:…"`.
func (k *Keyring) kekIDs() string {
	s := strconv.Quote(k.kek.ID())
	if len(k.decrypt) == 0 {
		return s
	}
	ids := make([]string, len(k.decrypt))
	for i, d := range k.decrypt {
		ids[i] = strconv.Quote(d.ID())
	}
	return s + " and, to unwrap only, " + strings.Join(ids, ", ")
}

func (k *Keyring) unwrap(ctx context.Context, rec Record) ([]byte, error) {
	kek, err := k.kekFor(rec)
	if err != nil {
		return nil, err
	}
	key, err := kek.Unwrap(ctx, rec.Wrapped, AAD(rec.Tenant, rec.Version))
	if err != nil {
		return nil, fmt.Errorf("%w: tenant %q version %d: %w", ErrUnwrap, rec.Tenant, rec.Version, err)
	}
	if len(key) != DEKSize {
		clear(key)
		return nil, fmt.Errorf("%w: tenant %q version %d: the key is not %d bytes", ErrUnwrap, rec.Tenant, rec.Version, DEKSize)
	}
	return key, nil
}

// shared runs fn once for concurrent callers with the same flight key, so
// that a cold cache costs one store read and one KMS call per key, not one
// per caller. When the leader's context ends but the caller's has not, the
// caller tries again rather than fail for someone else's cancellation.
func (k *Keyring) shared(ctx context.Context, flight string, fn func(context.Context) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		ch := k.flight.DoChan(flight, func() (any, error) { return fn(ctx) })
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r := <-ch:
			leaderGone := errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)
			if r.Shared && leaderGone && ctx.Err() == nil && attempt < 2 {
				continue
			}
			return r.Val, r.Err
		}
	}
}

// record appends one row to the audit trail, if there is one.
func (k *Keyring) record(ctx context.Context, action, tenant, outcome string, detail map[string]any) error {
	if k.audit == nil {
		return nil
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = k.audit.Append(ctx, audit.Entry{At: k.now(), Actor: k.actor, Action: action, TenantID: tenant, Outcome: outcome, Detail: d})
	return err
}

// newestByTenant picks each tenant's newest record from records sorted by
// tenant then version.
func newestByTenant(all []Record) []Record {
	var out []Record
	for i, r := range all {
		if i == len(all)-1 || all[i+1].Tenant != r.Tenant {
			out = append(out, r)
		}
	}
	return out
}
