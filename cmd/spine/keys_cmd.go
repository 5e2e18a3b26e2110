package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/keys"
)

func newKeysCmd() *cobra.Command {
	c := group("keys", "List, rotate, shred and re-wrap the per-tenant keys that encrypt PII",
		newKeysListCmd(), newKeysRotateCmd(), newKeysShredCmd(), newKeysRewrapCmd())
	c.Long = "Each tenant's PII is encrypted with its own data key, versioned and replaced\n" +
		"every 90 days; the keys are stored wrapped by a master key: Vault Transit\n" +
		"(--vault-key, token in $VAULT_TOKEN) or a local one ($SPINE_MASTER_KEY or\n" +
		"<data-dir>/keys/master.key). The keyring lives in <data-dir>/keys/keyring.json\n" +
		"or, with --keys-postgres, in the PostgreSQL table spine_keys. Rotations,\n" +
		"shreds and re-wraps are recorded in the audit trail."
	return c
}

// keysConn are the flags that say where the keyring and its master key
// are. The Vault token is read from $VAULT_TOKEN only: a flag would leave
// it in shell histories and process lists.
type keysConn struct {
	dataDir, vaultAddr, vaultKey, vaultMount, postgres, table string
	// decryptKeys are master key files that unwrap only: the keys a KEK
	// migration (keys rewrap) moves away from, while it runs.
	decryptKeys []string
}

func (c *keysConn) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	dataDirFlag(cmd, &c.dataDir)
	fl.StringVar(&c.vaultAddr, "vault-addr", envOr("VAULT_ADDR", ""), "Vault's address ($VAULT_ADDR)")
	fl.StringVar(&c.vaultKey, "vault-key", envOr("SPINE_VAULT_KEY", ""), "Vault Transit key that wraps the data keys ($SPINE_VAULT_KEY; default: the local master key)")
	fl.StringVar(&c.vaultMount, "vault-mount", envOr("SPINE_VAULT_MOUNT", "transit"), "where Vault's Transit engine is mounted ($SPINE_VAULT_MOUNT)")
	fl.StringVar(&c.postgres, "keys-postgres", envOr("SPINE_KEYS_POSTGRES", ""), "PostgreSQL URL of the keyring, instead of <data-dir>/keys/keyring.json ($SPINE_KEYS_POSTGRES)")
	fl.StringVar(&c.table, "keys-table", keys.DefaultTable, "PostgreSQL table of the keyring")
	_ = fl.MarkHidden("keys-table") // tests use a table each
	var decrypt []string
	if v := os.Getenv("SPINE_DECRYPT_MASTER_KEYS"); v != "" {
		decrypt = strings.Split(v, ",")
	}
	fl.StringArrayVar(&c.decryptKeys, "decrypt-master-key", decrypt,
		"a local master key file that only unwraps data keys: the old one while `keys rewrap` moves them to a new one (repeatable; $SPINE_DECRYPT_MASTER_KEYS, comma-separated)")
}

// config builds the keyring's Config (without the audit trail).
func (c *keysConn) config(cmd *cobra.Command) (keys.Config, error) {
	cfg := keys.Config{DataDir: c.dataDir, PostgresURL: c.postgres, PostgresTable: c.table,
		Logger: newLogger(cmd.ErrOrStderr(), slog.LevelWarn)}
	for _, path := range c.decryptKeys {
		kek, err := keys.ReadLocalKEK(path)
		if err != nil {
			return cfg, usageErrorf("--decrypt-master-key: %v", err)
		}
		cfg.DecryptKEKs = append(cfg.DecryptKEKs, kek)
	}
	if c.vaultKey == "" {
		if cmd.Flags().Changed("vault-addr") {
			return cfg, usageErrorf("--vault-addr needs --vault-key (the Transit key's name)")
		}
		return cfg, nil
	}
	token := os.Getenv("VAULT_TOKEN")
	if token == "" {
		return cfg, usageErrorf("--vault-key needs a Vault token in $VAULT_TOKEN")
	}
	cfg.Vault = &keys.VaultConfig{Address: c.vaultAddr, Token: token, Key: c.vaultKey, Mount: c.vaultMount}
	return cfg, nil
}

// keysAudit are the flags of the commands that change keys: who acts, and
// where the audit trail is.
type keysAudit struct{ actor, postgres, table string }

func (a *keysAudit) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.actor, "actor", envOr("SPINE_ACTOR", ""), "who, for the audit trail ($SPINE_ACTOR; default user:<OS user>)")
	fl.StringVar(&a.postgres, "audit-postgres", envOr("SPINE_AUDIT_POSTGRES", ""), "PostgreSQL URL of the audit trail, instead of SQLite in the data dir ($SPINE_AUDIT_POSTGRES)")
	fl.StringVar(&a.table, "audit-table", audit.DefaultTable, "PostgreSQL table of the audit trail")
	_ = fl.MarkHidden("audit-table") // tests use a table each
}

// openKeyring opens the keyring of the flags; with a, it records in the
// audit trail. close releases both.
func openKeyring(cmd *cobra.Command, c *keysConn, a *keysAudit) (k *keys.Keyring, close func(), err error) {
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, nil, err
	}
	return openKeyringConfig(cmd, cfg, c.dataDir, a)
}

// openKeyringConfig opens the keyring of cfg; with a, it records in the
// audit trail (SQLite in dataDir unless a says PostgreSQL).
func openKeyringConfig(cmd *cobra.Command, cfg keys.Config, dataDir string, a *keysAudit) (k *keys.Keyring, close func(), err error) {
	ctx := cmd.Context()
	closeAudit := func() {}
	if a != nil {
		cfg.Actor = a.actor
		if cfg.Actor == "" {
			if u := osUser(); u != "" {
				cfg.Actor = "user:" + u
			}
		}
		if cfg.Actor == "" {
			return nil, nil, usageErrorf("--actor is required: the OS user is unknown")
		}
		if cfg.Audit, err = openAuditTrail(ctx, dataDir, a.postgres, a.table); err != nil {
			return nil, nil, err
		}
		closeAudit = func() { _ = cfg.Audit.Close() }
	}
	if k, err = keys.Open(ctx, cfg); err != nil {
		closeAudit()
		return nil, nil, err
	}
	return k, func() { _ = k.Close(); closeAudit() }, nil
}

// keysUsage turns keyring errors that are the caller's fault into exit 2.
func keysUsage(err error) error {
	if errors.Is(err, keys.ErrInvalidTenant) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

func newKeysListCmd() *cobra.Command {
	var (
		conn   keysConn
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--data-dir DIR | --keys-postgres URL] [--json]",
		Short: "List every key version of every tenant (never the keys)",
		Long: "One line per key version: tenant, version, when it was created, when it is\n" +
			"due to be replaced (created + 90 days), and its state: active (encrypts),\n" +
			"retired (still decrypts what it encrypted) or shredded (destroyed). Reads the\n" +
			"keyring only: no master key is needed or created.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := conn.config(cmd)
			if err != nil {
				return err
			}
			var infos []keys.Info
			// Opening a file store creates it; a list must not invent one.
			path := filepath.Join(conn.dataDir, "keys", "keyring.json")
			if _, serr := os.Stat(path); cfg.PostgresURL != "" || serr == nil {
				// Listing unwraps nothing: no KEK (and no master key file
				// created, no Vault call).
				cfg.KEK, cfg.Vault = keysListOnly{}, nil
				k, err := keys.Open(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				defer k.Close()
				if infos, err = k.List(cmd.Context()); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if infos == nil {
					infos = []keys.Info{}
				}
				return writeJSON(out, infos)
			}
			if len(infos) == 0 {
				fmt.Fprintln(out, "no keys")
				return nil
			}
			return keyTable(out, infos)
		},
	}
	conn.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// keysListOnly is the KEK of `keys list`, which unwraps nothing.
type keysListOnly struct{}

func (keysListOnly) Wrap(context.Context, []byte, []byte) ([]byte, error) {
	return nil, errors.New("keys list wraps nothing")
}
func (keysListOnly) Unwrap(context.Context, []byte, []byte) ([]byte, error) {
	return nil, errors.New("keys list unwraps nothing")
}
func (keysListOnly) ID() string { return "none" }

func newKeysRotateCmd() *cobra.Command {
	var (
		conn        keysConn
		aud         keysAudit
		tenant      string
		all, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rotate [--tenant ID | --all] [--json]",
		Short: "Replace data keys by new versions: those due, one tenant's, or all",
		Long: "Without --tenant or --all, give a new key version to every tenant whose\n" +
			"newest key is 90 days old or older (run it daily, e.g. from cron; services\n" +
			"also rotate a due key on first use). --tenant rotates that tenant's key now;\n" +
			"--all rotates every tenant's but shredded ones. Old versions keep decrypting\n" +
			"what they encrypted. Each new version is recorded in the audit trail.\n" +
			"Other processes switch to a new version within their cache TTL (a minute).",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenant != "" && all {
				return usageErrorf("--tenant and --all: give one")
			}
			k, closeAll, err := openKeyring(cmd, &conn, &aud)
			if err != nil {
				return err
			}
			defer closeAll()
			ctx := cmd.Context()
			var rotated []keys.Info
			switch {
			case tenant != "":
				in, rerr := k.Rotate(ctx, tenant)
				if rerr == nil {
					rotated = append(rotated, in)
				}
				err = keysUsage(rerr)
			case all:
				rotated, err = keysRotateAll(ctx, k)
			default:
				rotated, err = k.RotateDue(ctx)
			}
			out := cmd.OutOrStdout()
			var werr error
			switch {
			case asJSON:
				if rotated == nil {
					rotated = []keys.Info{}
				}
				werr = writeJSON(out, rotated)
			case len(rotated) == 0 && err == nil:
				fmt.Fprintln(out, "no key is due for rotation")
			case len(rotated) > 0:
				werr = keyTable(out, rotated)
			}
			return errors.Join(err, werr)
		},
	}
	conn.add(cmd)
	aud.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "rotate this tenant's key now, due or not")
	fl.BoolVar(&all, "all", false, "rotate every tenant's key now, due or not (not shredded tenants)")
	fl.BoolVar(&asJSON, "json", false, "print the new versions as a JSON array")
	return cmd
}

// keysRotateAll rotates every tenant whose newest key is not shredded, going on
// past failures.
func keysRotateAll(ctx context.Context, k *keys.Keyring) ([]keys.Info, error) {
	infos, err := k.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []keys.Info
	var errs []error
	for i, in := range infos {
		newest := i == len(infos)-1 || infos[i+1].Tenant != in.Tenant
		if !newest || in.State == keys.Shredded {
			continue
		}
		rotated, err := k.Rotate(ctx, in.Tenant)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rotated)
	}
	return out, errors.Join(errs...)
}

func newKeysShredCmd() *cobra.Command {
	var (
		conn           keysConn
		aud            keysAudit
		tenant, reason string
	)
	cmd := &cobra.Command{
		Use:   "shred --tenant ID --reason TEXT",
		Short: "Destroy every data key of a tenant: its PII can never be decrypted again",
		Long: "Crypto-shredding: every key version of the tenant is destroyed in the\n" +
			"keyring and replaced by a tombstone, so whatever PII of the tenant exists\n" +
			"(in topics, dead letters, copies) can never be decrypted again, and readers\n" +
			"report it as shredded. Irreversible. Running processes drop their cached\n" +
			"copies within their cache TTL (a minute). If the tenant publishes again it\n" +
			"gets a fresh key. Recorded, with --reason, in the audit trail. Copies of the\n" +
			"keyring (PostgreSQL rows until VACUUM, WAL archives, backups) still hold the\n" +
			"wrapped keys, useless without the master key that wraps them.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case tenant == "":
				return usageErrorf("--tenant is required")
			case strings.TrimSpace(reason) == "":
				return usageErrorf("--reason is required: say why, for the audit trail")
			}
			k, closeAll, err := openKeyring(cmd, &conn, &aud)
			if err != nil {
				return err
			}
			defer closeAll()
			ctx := cmd.Context()
			if err := k.Shred(ctx, tenant, reason); err != nil {
				return keysUsage(err)
			}
			infos, err := k.List(ctx)
			if err != nil {
				return err
			}
			var mine []keys.Info
			for _, in := range infos {
				if in.Tenant == tenant {
					mine = append(mine, in)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s shredded: its PII can no longer be decrypted\n", tenant)
			return keyTable(cmd.OutOrStdout(), mine)
		},
	}
	conn.add(cmd)
	aud.add(cmd)
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant whose keys to destroy (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail (required)")
	return cmd
}

func newKeysRewrapCmd() *cobra.Command {
	var (
		conn                                                 keysConn
		aud                                                  keysAudit
		reason, toMaster, toVault, toVaultAddr, toVaultMount string
		dryRun                                               bool
	)
	cmd := &cobra.Command{
		Use:   "rewrap --reason TEXT [--to-master-key FILE | --to-vault-key NAME] [--dry-run]",
		Short: "Wrap every data key anew with another master key, so that the old one can be retired",
		Long: "The data keys themselves do not change (what they encrypted decrypts as\n" +
			"before); each is unwrapped with the master key it is stored under and wrapped\n" +
			"again with the target, one by one, so that the old master key can be\n" +
			"destroyed. The source is the master key the flags name today: Vault Transit\n" +
			"(--vault-key) or the local one ($SPINE_MASTER_KEY or <data-dir>/keys/master.key,\n" +
			"never created here). The target is one of:\n" +
			"  --to-master-key FILE  a new local master key (base64 of 32 bytes, mode 0600),\n" +
			"                        e.g. made with: (umask 077; openssl rand -base64 32 > FILE)\n" +
			"  --to-vault-key NAME   a Vault Transit key (--to-vault-addr, default --vault-addr;\n" +
			"                        token in $VAULT_TOKEN)\n" +
			"  neither, with --vault-key: the newest version of that Transit key, after\n" +
			"                        `vault write -f transit/keys/NAME/rotate`, so that\n" +
			"                        min_decryption_version can then retire the old versions\n" +
			"Keys already under the target are left alone, shredded keys stay shredded, and\n" +
			"a key changed by someone else meanwhile is reported, not overwritten: run it\n" +
			"again after a failure or an interruption; every key is under one of the two\n" +
			"master keys at every moment. Until the target is the master key everywhere,\n" +
			"processes with only the old one fail on the keys already moved. --dry-run\n" +
			"unwraps what would be moved and writes nothing. Exit 1 if any key failed.\n" +
			"The run is recorded, with --reason, in the audit trail.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case strings.TrimSpace(reason) == "" && !dryRun:
				return usageErrorf("--reason is required: say why, for the audit trail")
			case toMaster != "" && toVault != "":
				return usageErrorf("--to-master-key and --to-vault-key: give one")
			case toVault == "" && (toVaultAddr != "" || toVaultMount != ""):
				return usageErrorf("--to-vault-addr and --to-vault-mount need --to-vault-key")
			}
			cfg, err := conn.config(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			// Opening a file store creates it; there is nothing to rewrap
			// in a keyring that does not exist.
			if _, serr := os.Stat(filepath.Join(conn.dataDir, "keys", "keyring.json")); cfg.PostgresURL == "" && serr != nil {
				fmt.Fprintln(out, "no keys")
				return nil
			}
			from, err := rewrapSource(cfg, conn.dataDir)
			if err != nil {
				return err
			}
			defer closeKEK(from)
			to := from
			switch {
			case toMaster != "":
				if to, err = keys.ReadLocalKEK(toMaster); err != nil {
					return fmt.Errorf("--to-master-key: %w", err)
				}
			case toVault != "":
				token := os.Getenv("VAULT_TOKEN")
				if token == "" {
					return usageErrorf("--to-vault-key needs a Vault token in $VAULT_TOKEN")
				}
				if toVaultAddr == "" {
					toVaultAddr = conn.vaultAddr
				}
				if toVaultMount == "" {
					toVaultMount = conn.vaultMount
				}
				v, err := keys.NewVaultKEK(keys.VaultConfig{Address: toVaultAddr, Token: token, Key: toVault, Mount: toVaultMount})
				if err != nil {
					return fmt.Errorf("--to-vault-key: %w", err)
				}
				defer closeKEK(v)
				to = v
			default:
				if _, ok := from.(keys.VersionedKEK); !ok {
					return usageErrorf("--to-master-key or --to-vault-key is required: the keys are under the local master key %s, and rewrapping them with it changes nothing", from.ID())
				}
			}
			cfg.KEK, cfg.Vault, cfg.MasterKey = to, nil, nil
			if to.ID() != from.ID() {
				cfg.DecryptKEKs = append(cfg.DecryptKEKs, from)
			}
			a := &aud
			if dryRun {
				a = nil // a dry run writes nothing, the audit trail included
			}
			k, closeAll, err := openKeyringConfig(cmd, cfg, conn.dataDir, a)
			if err != nil {
				return err
			}
			defer closeAll()
			res, err := k.Rewrap(cmd.Context(), keys.RewrapOptions{Reason: reason, DryRun: dryRun})
			werr := rewrapReport(out, res, err == nil, toMaster, toVault)
			if err == nil && len(res.Failed) > 0 {
				err = fmt.Errorf("%d key versions were not rewrapped (listed above): each is still wrapped by the master key its record names; run it again once that is fixed", len(res.Failed))
			}
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return werr
		},
	}
	conn.add(cmd)
	aud.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&reason, "reason", "", "why, for the audit trail (required unless --dry-run)")
	fl.StringVar(&toMaster, "to-master-key", "", "file of the new local master key (base64, mode 0600; never created here)")
	fl.StringVar(&toVault, "to-vault-key", "", "Vault Transit key to wrap with (token in $VAULT_TOKEN)")
	fl.StringVar(&toVaultAddr, "to-vault-addr", "", "Vault's address for --to-vault-key (default: --vault-addr)")
	fl.StringVar(&toVaultMount, "to-vault-mount", "", "where the Transit engine of --to-vault-key is mounted (default: --vault-mount)")
	fl.BoolVar(&dryRun, "dry-run", false, "unwrap what would be rewrapped, print the counts, write nothing")
	return cmd
}

// rewrapSource is the KEK the flags name for the keyring today. Unlike
// keys.Open it never creates a master key file: a new key there would
// unwrap nothing.
func rewrapSource(cfg keys.Config, dataDir string) (keys.KEK, error) {
	if cfg.Vault != nil {
		return keys.NewVaultKEK(*cfg.Vault)
	}
	if text := os.Getenv(keys.MasterKeyEnv); text != "" {
		master, err := keys.ParseMasterKey(text)
		if err != nil {
			return nil, fmt.Errorf("%w (in $%s)", err, keys.MasterKeyEnv)
		}
		return keys.NewLocalKEK(master)
	}
	k, err := keys.ReadLocalKEK(masterKeyPath(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no master key to unwrap the keys with: none at %s, in $%s or Vault (--vault-key)",
			masterKeyPath(dataDir), keys.MasterKeyEnv)
	}
	return k, err
}

func closeKEK(k keys.KEK) {
	if c, ok := k.(io.Closer); ok {
		_ = c.Close()
	}
}

// rewrapReport prints the counts of a rewrap, its failures and, after a
// complete run, what the operator does next.
func rewrapReport(w io.Writer, res keys.RewrapResult, complete bool, toMaster, toVault string) error {
	verb := "rewrapped"
	if res.DryRun {
		verb = "would rewrap"
		fmt.Fprintf(w, "dry run, nothing written; target %s\n", res.To)
	} else {
		fmt.Fprintf(w, "target %s\n", res.To)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	from := make([]string, 0, len(res.From))
	for id, n := range res.From {
		from = append(from, fmt.Sprintf("%d from %s", n, id))
	}
	slices.Sort(from)
	fmt.Fprintf(tw, "%s\t%d\t%s\n", verb, res.Rewrapped, strings.Join(from, ", "))
	fmt.Fprintf(tw, "already current\t%d\t\n", res.Current)
	fmt.Fprintf(tw, "shredded, skipped\t%d\t\n", res.Shredded)
	fmt.Fprintf(tw, "failed\t%d\t\n", len(res.Failed))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range res.Failed {
		fmt.Fprintf(w, "  failed: %v\n", f.Err)
	}
	if res.DryRun || !complete || len(res.Failed) > 0 {
		return nil
	}
	switch {
	case toMaster != "":
		fmt.Fprintf(w, "next: make %s the master key wherever this keyring is used ($%s or <data-dir>/keys/master.key), "+
			"then destroy the old one\n", toMaster, keys.MasterKeyEnv)
	case toVault != "":
		fmt.Fprintf(w, "next: give every process --vault-key %s (or $SPINE_VAULT_KEY), then destroy the old master key\n", toVault)
	case res.ToVersion > 0:
		fmt.Fprintf(w, "next: the Transit key's min_decryption_version can be raised to %d\n", res.ToVersion)
	}
	return nil
}

// keyTable prints key versions for people.
func keyTable(w io.Writer, infos []keys.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tVERSION\tCREATED\tEXPIRES\tSTATE")
	for _, in := range infos {
		state := string(in.State)
		if in.State == keys.Shredded {
			state += " " + in.ShreddedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", in.Tenant, in.Version,
			in.Created.UTC().Format(time.RFC3339), in.Expires.UTC().Format(time.RFC3339), state)
	}
	return tw.Flush()
}
