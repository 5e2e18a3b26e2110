package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/keys"
)

func newKeysCmd() *cobra.Command {
	c := group("keys", "List, rotate and shred the per-tenant keys that encrypt PII",
		newKeysListCmd(), newKeysRotateCmd(), newKeysShredCmd())
	c.Long = "Each tenant's PII is encrypted with its own data key, versioned and replaced\n" +
		"every 90 days; the keys are stored wrapped by a master key: Vault Transit\n" +
		"(--vault-key, token in $VAULT_TOKEN) or a local one ($SPINE_MASTER_KEY or\n" +
		"<data-dir>/keys/master.key). The keyring lives in <data-dir>/keys/keyring.json\n" +
		"or, with --keys-postgres, in the PostgreSQL table spine_keys. Rotations and\n" +
		"shreds are recorded in the audit trail."
	return c
}

// keysConn are the flags that say where the keyring and its master key
// are. The Vault token is read from $VAULT_TOKEN only: a flag would leave
// it in shell histories and process lists.
type keysConn struct {
	dataDir, vaultAddr, vaultKey, vaultMount, postgres, table string
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
}

// config builds the keyring's Config (without the audit trail).
func (c *keysConn) config(cmd *cobra.Command) (keys.Config, error) {
	cfg := keys.Config{DataDir: c.dataDir, PostgresURL: c.postgres, PostgresTable: c.table,
		Logger: newLogger(cmd.ErrOrStderr(), slog.LevelWarn)}
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
		if cfg.Audit, err = openAuditTrail(ctx, c.dataDir, a.postgres, a.table); err != nil {
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
