package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// VersionedKEK is a KEK whose key has versions of its own, as a Vault
// Transit key does: Wrap uses the newest, Unwrap any the KMS still allows.
// Rewrap moves DEKs wrapped by an older version to the newest, so that the
// older versions can be retired (Transit's min_decryption_version) while
// the KEK ID stays the same.
type VersionedKEK interface {
	KEK
	// WrappedVersion reads, without calling the KMS, which version of the
	// key wrapped a DEK.
	WrappedVersion(wrapped []byte) (int, error)
	// LatestVersion is the version Wrap uses now.
	LatestVersion(ctx context.Context) (int, error)
}

// RewrapOptions configures (*Keyring).Rewrap.
type RewrapOptions struct {
	// Reason says why, for the audit trail; required unless DryRun.
	Reason string
	// DryRun reads every key version and unwraps those a run would
	// rewrap (so that a source KEK that cannot unwrap them shows as
	// failures), but wraps no DEK and writes nothing, the audit trail
	// included; for a VersionedKEK it asks the newest version as a run
	// does. The counts say what a run would do.
	DryRun bool
}

// RewrapResult counts what Rewrap did with each stored key version. Every
// version is counted once: Rewrapped, Current, Shredded or in Failed.
type RewrapResult struct {
	// To is the ID of the KEK that wraps the DEKs now (the keyring's).
	To string `json:"to"`
	// ToVersion is the newest version of To when it is a VersionedKEK
	// and some DEK was wrapped by it; 0 otherwise.
	ToVersion int `json:"to_version,omitempty"`
	// DryRun: nothing was written; Rewrapped counts what would have been.
	DryRun bool `json:"dry_run,omitempty"`
	// Rewrapped counts the DEKs now wrapped by To (at its newest version).
	Rewrapped int `json:"rewrapped"`
	// From counts Rewrapped by the ID of the KEK that wrapped them before.
	From map[string]int `json:"from,omitempty"`
	// Current counts the DEKs that To (at its newest version) wrapped
	// already: left alone, which makes a second run a no-op.
	Current int `json:"current"`
	// Shredded counts tombstones, skipped; a version shredded while the
	// rewrap ran is counted here too, and stays shredded.
	Shredded int `json:"shredded"`
	// Failed lists the versions left as they were, each still wrapped by
	// the KEK its record names.
	Failed []RewrapFailure `json:"failed,omitempty"`
}

// RewrapFailure is a key version that Rewrap left as it was.
type RewrapFailure struct {
	Tenant  string `json:"tenant"`
	Version int    `json:"version"`
	// KEK is the ID of the KEK that still wraps it.
	KEK string `json:"kek"`
	// Err says why: ErrUnwrap (no KEK of the keyring unwraps it),
	// ErrConflict (the record changed while the rewrap ran), a KMS error…
	Err error `json:"-"`
}

// Error implements error; the message names tenant and version.
func (f RewrapFailure) Error() string { return f.Err.Error() }

// Unwrap gives errors.Is and errors.As the cause.
func (f RewrapFailure) Unwrap() error { return f.Err }

// Rewrap wraps every stored DEK anew with the keyring's KEK (Config.KEK,
// Vault or MasterKey), so that the KEKs it moves away from can be retired:
// an old or leaked local master key, the old versions of a rotated Transit
// key, or the local key when moving to Vault.
//
// For each key version that is not shredded: if the keyring's KEK wrapped
// it already (at its newest version, for a VersionedKEK) it is Current;
// otherwise it is unwrapped by the KEK its record names, the keyring's own
// or one of Config.DecryptKEKs, with the same AAD as ever (tenant and
// version), wrapped by the keyring's KEK, unwrapped again to check the new
// wrapping before the old one is lost, and written with Store.Rewrap, a
// compare-and-swap: a version shredded meanwhile stays shredded, one
// changed meanwhile is a failure (ErrConflict), not overwritten. The DEKs
// themselves do not change, so what they encrypted decrypts as before.
//
// Rewrap is idempotent and resumable: each version is swapped on its own,
// so a run that stops (a crash, a KMS outage) leaves every version wrapped
// either by its old KEK or by the new one, as its record says, and the
// next run rewraps what is left. It goes on past failing versions and
// lists them in the result; the error is for what stops the run (the
// store, the context, the audit trail). Versions created by other
// processes after the run has read the store are not seen: if those
// processes still wrap with the old KEK, run Rewrap again once they use
// the new one (a run that rewraps nothing confirms it).
//
// While Rewrap runs, readers that have only the old KEK fail on the
// versions already moved (ErrUnwrap, naming both KEK IDs): give them the
// new KEK with the old one in Config.DecryptKEKs first, or accept the
// interruption.
//
// Unless DryRun, the run is recorded in the audit trail as one
// "keys.rewrap" row (no tenant), outcome "rewrapped" or "failed", with the
// KEK IDs, the counts, the failed versions and the reason.
func (k *Keyring) Rewrap(ctx context.Context, opts RewrapOptions) (RewrapResult, error) {
	reason := strings.TrimSpace(opts.Reason)
	if reason == "" && !opts.DryRun {
		return RewrapResult{}, errors.New("keys: rewrap needs a reason, for the audit trail")
	}
	res := RewrapResult{To: k.kek.ID(), DryRun: opts.DryRun}
	err := k.rewrapAll(ctx, opts.DryRun, &res)
	if opts.DryRun {
		return res, err
	}
	k.log.Info("keys: rewrap done", "to", res.To, "rewrapped", res.Rewrapped, "current", res.Current,
		"shredded", res.Shredded, "failed", len(res.Failed), "reason", reason)
	// A cancelled run that changed keys is still recorded.
	if aerr := k.recordRewrap(context.WithoutCancel(ctx), reason, res, err); aerr != nil {
		err = errors.Join(err, fmt.Errorf("keys: rewrap: %d key versions are rewrapped, but the audit trail failed: %w", res.Rewrapped, aerr))
	}
	return res, err
}

func (k *Keyring) rewrapAll(ctx context.Context, dryRun bool, res *RewrapResult) error {
	all, err := k.store.All(ctx)
	if err != nil {
		return err
	}
	versioned, _ := k.kek.(VersionedKEK)
	for _, rec := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("keys: rewrap stopped: %w", err)
		}
		if rec.IsShredded() {
			res.Shredded++
			continue
		}
		if rec.KEK == k.kek.ID() {
			if versioned == nil {
				res.Current++
				continue
			}
			if res.ToVersion == 0 { // learnt once, when first needed
				if res.ToVersion, err = versioned.LatestVersion(ctx); err != nil {
					return fmt.Errorf("keys: rewrap: the newest version of KEK %q: %w", k.kek.ID(), err)
				}
			}
			v, err := versioned.WrappedVersion(rec.Wrapped)
			if err != nil {
				k.rewrapFailed(res, rec, fmt.Errorf("%w: tenant %q version %d: %w", ErrUnwrap, rec.Tenant, rec.Version, err))
				continue
			}
			if v >= res.ToVersion {
				res.Current++
				continue
			}
		}
		switch err := k.rewrapOne(ctx, rec, dryRun); {
		case err == nil:
			res.Rewrapped++
			if res.From == nil {
				res.From = map[string]int{}
			}
			res.From[rec.KEK]++
		case errors.Is(err, ErrShredded):
			res.Shredded++
		default:
			k.rewrapFailed(res, rec, err)
		}
	}
	return nil
}

// rewrapOne moves one version to the keyring's KEK; see Rewrap.
func (k *Keyring) rewrapOne(ctx context.Context, rec Record, dryRun bool) error {
	dek, err := k.unwrap(ctx, rec)
	if err != nil {
		return err
	}
	defer clear(dek)
	if dryRun {
		return nil
	}
	aad := AAD(rec.Tenant, rec.Version)
	wrapped, err := k.kek.Wrap(ctx, dek, aad)
	if err != nil {
		return fmt.Errorf("keys: rewrap tenant %q version %d: wrap with KEK %q: %w", rec.Tenant, rec.Version, k.kek.ID(), err)
	}
	// The old wrapping is about to be overwritten: check that the new one
	// gives the same DEK back, or a faulty KEK would lose the key.
	back, err := k.kek.Unwrap(ctx, wrapped, aad)
	if err != nil {
		return fmt.Errorf("keys: rewrap tenant %q version %d: KEK %q does not unwrap what it wrapped: %w", rec.Tenant, rec.Version, k.kek.ID(), err)
	}
	same := bytes.Equal(back, dek)
	clear(back)
	if !same {
		return fmt.Errorf("keys: rewrap tenant %q version %d: KEK %q unwraps another key than it wrapped", rec.Tenant, rec.Version, k.kek.ID())
	}
	return k.store.Rewrap(ctx, rec, k.kek.ID(), wrapped)
}

func (k *Keyring) rewrapFailed(res *RewrapResult, rec Record, err error) {
	k.log.Warn("keys: key version not rewrapped", "tenant", rec.Tenant, "version", rec.Version, "kek", rec.KEK, "err", err)
	res.Failed = append(res.Failed, RewrapFailure{Tenant: rec.Tenant, Version: rec.Version, KEK: rec.KEK, Err: err})
}

// recordRewrap writes the run's audit row.
func (k *Keyring) recordRewrap(ctx context.Context, reason string, res RewrapResult, runErr error) error {
	detail := map[string]any{"to": res.To, "reason": reason, "rewrapped": res.Rewrapped, "current": res.Current,
		"shredded": res.Shredded, "failed": len(res.Failed)}
	if res.ToVersion > 0 {
		detail["to_version"] = res.ToVersion
	}
	if res.From != nil {
		detail["from"] = res.From
	}
	if len(res.Failed) > 0 {
		failed := make([]string, len(res.Failed))
		for i, f := range res.Failed {
			failed[i] = fmt.Sprintf("%s/%d", f.Tenant, f.Version)
		}
		detail["failed_versions"] = failed
	}
	outcome := "rewrapped"
	if runErr != nil || len(res.Failed) > 0 {
		outcome = "failed"
	}
	if runErr != nil {
		detail["error"] = runErr.Error()
	}
	return k.record(ctx, "keys.rewrap", "", outcome, detail)
}
