package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
)

func newPublishCmd() *cobra.Command {
	var (
		kf      kafkaFlags
		source  string
		timeout time.Duration
		conn    keysConn
		aud     auditConn
		tokens  tokenFlags
	)
	cmd := &cobra.Command{
		Use:   "publish [--brokers LIST] [--data-dir DIR] [--source NAME] [--issuer URL --client-id ID | --no-token] EVENT FILE",
		Short: "Validate a payload (FILE, or - for stdin) and publish it",
		Long: "Validate the payload, fill the header (tenant_id from the payload), publish\n" +
			"and print the event_id. Exit 1 with one '<json-pointer>: <reason>' line per\n" +
			"violation, and nothing published, when the payload is invalid.\n" +
			"PII fields are encrypted with the tenant's key from the keyring in the data\n" +
			"dir (or Vault / PostgreSQL, as for spine keys) before they leave; an event\n" +
			"with PII fields is refused when there is no keyring, and recorded in the\n" +
			"audit trail when published. The record carries a service token of the\n" +
			"event's producer: from the dev issuer recorded in the data dir by spine dev,\n" +
			"or from --issuer with --client-id and the secret in $" + clientSecretEnv + ".",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload, err := readInput(cmd, args[1])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			e, err := cat.Event(args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if source != "" && source != e.Source {
				return &exitError{code: exitUsage, err: &bus.GrantError{Event: e.Name, Source: source, Producer: e.Source}}
			}
			ctx := cmd.Context()
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			opts := []bus.Option{bus.WithLogger(log)}
			if source != "" {
				opts = append(opts, bus.WithSource(source))
			}
			if len(e.Current().PII) > 0 {
				closeSec, err := publishPII(cmd, &conn, &aud, cat, "service:"+e.Source, &opts)
				if err != nil {
					return err
				}
				defer closeSec()
			}
			src, err := tokens.source(ctx, conn.dataDir, e.Source, log)
			if err != nil {
				return err
			}
			if src != nil {
				opts = append(opts, bus.WithTokenSource(src))
			}
			t, err := kf.transport(cmd.Context(), "spine-cli", log)
			if err != nil {
				return err
			}
			defer t.Close()
			client, err := bus.New(t, opts...)
			if err != nil {
				return err
			}
			sendCtx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out, err := client.Publish(sendCtx, bus.Outgoing{Event: args[0], Payload: payload})
			if err != nil && errors.Is(sendCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
				return fmt.Errorf("publish %s: no acknowledgement from %s within %s (is the broker up? spine dev listens on %s): %w",
					args[0], kf.brokers, timeout, DefaultBrokers, err)
			}
			var ve *event.ValidationError
			var ge *bus.GrantError
			switch {
			case errors.As(err, &ve):
				for _, v := range ve.Violations {
					fmt.Fprintln(cmd.OutOrStdout(), v.String())
				}
				return failed(err)
			case errors.As(err, &ge):
				return &exitError{code: exitUsage, err: err}
			case err != nil:
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out[0].Header.EventID)
			return nil
		},
	}
	kf.add(cmd)
	cmd.Flags().StringVar(&source, "source", "", "publish as this service; it must be the event's producer in the catalog")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up when the broker has not acknowledged the event by then")
	conn.add(cmd)
	aud.add(cmd)
	tokens.addSource(cmd)
	return cmd
}

// publishPII adds to opts what publishing an event with PII fields needs:
// the PII cipher over the keyring (which must exist: the check comes
// before anything is created in the data dir) and the audit trail, both
// acting as actor. closeAll releases them.
func publishPII(cmd *cobra.Command, conn *keysConn, aud *auditConn, cat *catalog.Catalog, actor string, opts *[]bus.Option) (closeAll func(), err error) {
	if !conn.keyringAvailable() {
		return nil, &noKeyringError{dataDir: conn.dataDir}
	}
	store, err := aud.open(cmd.Context(), conn.dataDir)
	if err != nil {
		return nil, err
	}
	ciph, closeKeys, err := openCipher(cmd, conn, cat, store, actor)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	*opts = append(*opts, bus.WithPII(ciph), bus.WithAudit(store, actor))
	return func() { closeKeys(); _ = store.Close() }, nil
}
