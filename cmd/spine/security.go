package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/devserver"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/token"
	"github.com/inopsio/spine/token/issuer"
)

// The security wiring shared by the commands that touch events (spec §9):
// where the local state is, the keyring and PII cipher, service tokens and
// the audit trail. `spine dev` creates the state in the data dir; publish,
// tail and consume given the same data dir find it without other setup.

// dataDirFlag adds --data-dir, the one flag of every command that keeps or
// reads local state, so they all agree on where it is.
func dataDirFlag(cmd *cobra.Command, into *string) {
	cmd.Flags().StringVar(into, "data-dir", envOr("SPINE_DATA_DIR", devserver.DefaultDataDir),
		"local state: keys/ (master key, keyring), issuer/ (dev token issuer), audit.db, kafka/ ($SPINE_DATA_DIR)")
}

// clientSecretEnv holds the client secret for --issuer: a flag would leave
// it in shell histories and process lists.
const clientSecretEnv = "SPINE_CLIENT_SECRET"

// noKeyringError says a command that must encrypt PII found no keyring.
type noKeyringError struct{ dataDir string }

func (e *noKeyringError) Error() string {
	return fmt.Sprintf("no keyring in data dir %s: no master key at %s, in $%s or Vault (--vault-key), so PII cannot be encrypted; "+
		"run `spine dev --data-dir %s` once (it creates the keyring), or `spine keys rotate --data-dir %s`, or give --data-dir where they ran",
		e.dataDir, masterKeyPath(e.dataDir), keys.MasterKeyEnv, e.dataDir, e.dataDir)
}

func masterKeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "master.key") }

// keyringAvailable reports whether the flags name a master key that
// exists: Vault, $SPINE_MASTER_KEY, or the data dir's master key file.
// Opening a keyring without one would create a master key, and PII
// encrypted under a key nobody else holds is PII lost.
func (c *keysConn) keyringAvailable() bool {
	if c.vaultKey != "" || os.Getenv(keys.MasterKeyEnv) != "" {
		return true
	}
	_, err := os.Stat(masterKeyPath(c.dataDir))
	return err == nil
}

// openCipher opens the keyring the flags name, which must exist
// (*noKeyringError otherwise), and a PII cipher over it. With aud, the
// keyring records the keys it creates under actor. closeKeys releases the
// keyring.
func openCipher(cmd *cobra.Command, c *keysConn, cat *catalog.Catalog, aud audit.Store, actor string) (_ *pii.Cipher, closeKeys func(), _ error) {
	if !c.keyringAvailable() {
		return nil, nil, &noKeyringError{dataDir: c.dataDir}
	}
	cfg, err := c.config(cmd)
	if err != nil {
		return nil, nil, err
	}
	cfg.Audit, cfg.Actor = aud, actor
	k, err := keys.Open(cmd.Context(), cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("keyring in %s: %w", c.dataDir, err)
	}
	ciph, err := pii.New(cat, k)
	if err != nil {
		_ = k.Close()
		return nil, nil, err
	}
	return ciph, func() { _ = k.Close() }, nil
}

// auditConn are the flags that say where the audit trail is: the SQLite
// file in the data dir unless --audit-postgres.
type auditConn struct{ postgres, table string }

func (a *auditConn) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.postgres, "audit-postgres", envOr("SPINE_AUDIT_POSTGRES", ""), "PostgreSQL URL of the audit trail, instead of SQLite in the data dir ($SPINE_AUDIT_POSTGRES)")
	fl.StringVar(&a.table, "audit-table", audit.DefaultTable, "PostgreSQL table of the audit trail")
	_ = fl.MarkHidden("audit-table") // tests use a table each
}

func (a *auditConn) open(ctx context.Context, dataDir string) (audit.Store, error) {
	return openAuditTrail(ctx, dataDir, a.postgres, a.table)
}

// tokenFlags say how a command obtains (publish) or checks (consume)
// service tokens: the dev issuer recorded in the data dir by default, or
// an issuer given with --issuer.
type tokenFlags struct {
	issuer, clientID, audience string
	off                        bool // --no-token, --no-verify
}

func (f *tokenFlags) addIssuer(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.issuer, "issuer", envOr("SPINE_ISSUER", ""), "OIDC issuer URL, e.g. https://keycloak.example/realms/inopsio ($SPINE_ISSUER; default: the dev issuer recorded in the data dir)")
}

// addSource adds the flags of a producer: --issuer, --client-id, --no-token.
func (f *tokenFlags) addSource(cmd *cobra.Command) {
	f.addIssuer(cmd)
	cmd.Flags().StringVar(&f.clientID, "client-id", envOr("SPINE_CLIENT_ID", ""), "client id for the token ($SPINE_CLIENT_ID; default: the event's producer); with --issuer the secret is read from $"+clientSecretEnv)
	cmd.Flags().BoolVar(&f.off, "no-token", false, "publish without a service token (consumers that verify tokens dead-letter the event)")
}

// addVerifier adds the flags of a consumer: --issuer, --audience, --no-verify.
func (f *tokenFlags) addVerifier(cmd *cobra.Command) {
	f.addIssuer(cmd)
	cmd.Flags().StringVar(&f.audience, "audience", token.DefaultAudience, "audience a token must carry")
	cmd.Flags().BoolVar(&f.off, "no-verify", false, "do not check service tokens (development only)")
}

// source returns the token source of client (the event's producer unless
// --client-id), or nil when the command publishes without tokens: with
// --no-token, or when there is neither --issuer nor a dev issuer in the
// data dir (logged).
func (f *tokenFlags) source(ctx context.Context, dataDir, client string, log *slog.Logger) (*token.Source, error) {
	if f.off {
		return nil, nil
	}
	if f.clientID != "" {
		client = f.clientID
	}
	var cfg token.SourceConfig
	where := "--issuer"
	if f.issuer != "" {
		secret := os.Getenv(clientSecretEnv)
		if secret == "" {
			return nil, usageErrorf("--issuer needs the client secret of %q in $%s", client, clientSecretEnv)
		}
		cfg = token.SourceConfig{Issuer: f.issuer, ClientID: client, ClientSecret: token.Secret(secret)}
	} else {
		creds, err := issuer.LoadCredentials(dataDir)
		if errors.Is(err, issuer.ErrNoIssuer) {
			log.Warn("publishing without a service token: no --issuer, and no dev issuer in the data dir; consumers that verify tokens will dead-letter it",
				"data_dir", dataDir)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("service token: %w", err)
		}
		if cfg, err = creds.SourceConfig(client); err != nil {
			return nil, fmt.Errorf("service token: dev issuer of %s: %w", dataDir, err)
		}
		where = "the dev issuer recorded in " + dataDir + " (is `spine dev` running?)"
	}
	cfg.Logger = log
	src, err := token.NewSource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("service token of %s from %s: %w", client, where, err)
	}
	return src, nil
}

// verifier returns the token verifier of a consumer, or nil with
// --no-verify (warned about).
func (f *tokenFlags) verifier(ctx context.Context, dataDir string, log *slog.Logger) (*token.Verifier, error) {
	if f.off {
		log.Warn("--no-verify: service tokens are not checked; any client can feed this consumer")
		return nil, nil
	}
	url, where := f.issuer, "--issuer"
	if url == "" {
		creds, err := issuer.LoadCredentials(dataDir)
		if errors.Is(err, issuer.ErrNoIssuer) {
			return nil, usageErrorf("no token issuer to verify service tokens with: no --issuer, and no dev issuer in data dir %s "+
				"(run `spine dev --data-dir %s`); --no-verify consumes without checking them", dataDir, dataDir)
		}
		if err != nil {
			return nil, fmt.Errorf("token verifier: %w", err)
		}
		url, where = creds.URL, "the dev issuer recorded in "+dataDir+" (is `spine dev` running?)"
	}
	v, err := token.NewVerifier(ctx, token.VerifierConfig{Issuer: url, Audience: f.audience, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("token verifier for %s: %w", where, err)
	}
	return v, nil
}

// operatorActor is who a person running a command is, for the audit trail:
// --actor, else user:<OS user>.
func operatorActor(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if u := osUser(); u != "" {
		return "user:" + u, nil
	}
	return "", usageErrorf("--actor is required: the OS user is unknown")
}
