package main

import (
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
)

func newTopicsCmd() *cobra.Command {
	return group("topics", "Manage the catalog's Kafka topics", newTopicsApplyCmd())
}

func newTopicsApplyCmd() *cobra.Command {
	var (
		brokers    string
		partitions int32
	)
	cmd := &cobra.Command{
		Use:   "apply [--brokers LIST] [--partitions N]",
		Short: "Create or update every catalog topic and its dead-letter topic",
		Long: "Create every catalog topic and its <topic>.dlq (retention.ms=604800000, 7\n" +
			"days), or update them: missing configs are set, partitions are raised to\n" +
			"--partitions, and a dead-letter topic to at least its source's count.\n" +
			"Nothing is deleted or shrunk. Idempotent.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partitions < 1 {
				return usageErrorf("--partitions must be at least 1")
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			t, err := kafka.New(kafka.Config{Brokers: splitBrokers(brokers), ClientID: "spine-topics", Logger: log})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer t.Close()
			states, err := t.ApplyCatalog(cmd.Context(), cat, partitions)
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TOPIC\tPARTITIONS\tCHANGE")
			for _, s := range states {
				change := []string{}
				switch {
				case s.Created:
					change = append(change, "created")
				case s.Grown:
					change = append(change, "partitions raised")
				}
				change = append(change, s.Set...)
				if len(change) == 0 {
					change = append(change, "unchanged")
				}
				fmt.Fprintf(w, "%s\t%d\t%s\n", s.Name, s.Partitions, strings.Join(change, ", "))
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	brokersFlag(cmd, &brokers)
	cmd.Flags().Int32Var(&partitions, "partitions", 3, "partitions of each topic, at least")
	return cmd
}
