package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
)

func newTailCmd() *cobra.Command {
	var (
		kf            kafkaFlags
		tenant        string
		events        []string
		fromBeginning bool
		maxEvents     int
		conn          keysConn
		pf            tailPIIFlags
	)
	cmd := &cobra.Command{
		Use:   "tail [--brokers LIST] [--data-dir DIR] [--event NAME]... [--tenant ID] [--from-beginning] [--max N] [--ciphertext]",
		Short: "Print events as they arrive, one JSON object per line",
		Long: "Print events as one JSON object per line: {\"header\":{…},\"payload\":{…}}.\n" +
			"Reads without a consumer group: it commits nothing and disturbs no consumer.\n" +
			"Records that are not Spine events are reported on stderr and skipped.\n" +
			"PII fields are shown decrypted when the keyring is at hand (the data dir of\n" +
			"spine dev, or Vault / PostgreSQL as for spine keys), each decrypted event\n" +
			"recorded in the audit trail under --actor; as spine:pii:v1: ciphertext\n" +
			"otherwise, or with --ciphertext. An event that does not decrypt is printed\n" +
			"as ciphertext, with the reason on stderr.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			topics, err := topicsOf(cat, events)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			dec, closeDec, err := pf.open(cmd, &conn, cat, log)
			if err != nil {
				return err
			}
			defer closeDec()
			t, err := kf.transport(cmd.Context(), "spine-tail", log)
			if err != nil {
				return err
			}
			defer t.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			printed := 0
			return t.Read(cmd.Context(), kafka.ReadOptions{Topics: topics, FromBeginning: fromBeginning},
				func(ctx context.Context, d *bus.Delivery) error {
					rec, err := codec.Decode(d.Record)
					if err != nil {
						log.Warn("not a Spine event; skipped", "position", d.ID, "error", err)
						return nil
					}
					if tenant != "" && rec.Envelope.Header.TenantID != tenant {
						return nil
					}
					env, err := dec.decrypt(ctx, d, rec)
					if err != nil {
						return err
					}
					if err := enc.Encode(env); err != nil {
						return err
					}
					if printed++; maxEvents > 0 && printed >= maxEvents {
						return kafka.ErrStop
					}
					return nil
				})
		},
	}
	kf.add(cmd)
	cmd.Flags().StringArrayVar(&events, "event", nil, "only this event (repeatable; default: every catalog event)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "only events of this tenant_id")
	cmd.Flags().BoolVar(&fromBeginning, "from-beginning", false, "start at the oldest retained event instead of new ones")
	cmd.Flags().IntVar(&maxEvents, "max", 0, "stop after N events (0: follow until interrupted)")
	conn.add(cmd)
	pf.add(cmd)
	return cmd
}

// topicsOf returns the topics of the named events, or of every event.
func topicsOf(cat *catalog.Catalog, names []string) ([]string, error) {
	if len(names) == 0 {
		var topics []string
		for _, e := range cat.Events() {
			topics = append(topics, e.Topic)
		}
		return topics, nil
	}
	topics := make([]string, 0, len(names))
	for _, n := range names {
		e, err := cat.Event(n)
		if err != nil {
			return nil, fmt.Errorf("--event: %w", err)
		}
		topics = append(topics, e.Topic)
	}
	return topics, nil
}
