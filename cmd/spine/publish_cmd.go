package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/event"
)

// DefaultBrokers is where every command looks for Kafka unless told:
// `spine dev`'s embedded broker.
const DefaultBrokers = "127.0.0.1:9092"

// brokersFlag adds --brokers with the SPINE_BROKERS default.
func brokersFlag(cmd *cobra.Command, into *string) {
	cmd.Flags().StringVar(into, "brokers", envOr("SPINE_BROKERS", DefaultBrokers), "Kafka brokers, comma-separated ($SPINE_BROKERS)")
}

func splitBrokers(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func newPublishCmd() *cobra.Command {
	var brokers, source string
	cmd := &cobra.Command{
		Use:   "publish [--brokers LIST] [--source NAME] EVENT FILE",
		Short: "Validate a payload (FILE, or - for stdin) and publish it",
		Long: "Validate the payload, fill the header (tenant_id from the payload), publish\n" +
			"and print the event_id. Exit 1 with one '<json-pointer>: <reason>' line per\n" +
			"violation, and nothing published, when the payload is invalid.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload, err := readInput(cmd, args[1])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			t, err := kafka.New(kafka.Config{Brokers: splitBrokers(brokers), ClientID: "spine-cli", Logger: log})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer t.Close()
			opts := []bus.Option{bus.WithLogger(log)}
			if source != "" {
				opts = append(opts, bus.WithSource(source))
			}
			client, err := bus.New(t, opts...)
			if err != nil {
				return err
			}
			if _, err := client.Catalog().Event(args[0]); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out, err := client.Publish(cmd.Context(), bus.Outgoing{Event: args[0], Payload: payload})
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
	brokersFlag(cmd, &brokers)
	cmd.Flags().StringVar(&source, "source", "", "publish as this service; it must be the event's producer in the catalog")
	return cmd
}
