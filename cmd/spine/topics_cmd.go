package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/catalog"
)

func newTopicsCmd() *cobra.Command {
	return group("topics", "Manage the catalog's Kafka topics", newTopicsApplyCmd())
}

func newTopicsApplyCmd() *cobra.Command {
	var (
		kf         kafkaFlags
		partitions int32
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "apply [--brokers LIST] [--partitions N]",
		Short: "Create or update every catalog topic, its retry topics and its dead-letter topic",
		Long: "Create every catalog topic and its <topic>.dlq (retention.ms=604800000, 7\n" +
			"days), or update them: missing configs are set, partitions are raised to\n" +
			"--partitions, and a dead-letter topic to at least its source's count.\n" +
			"Nothing is deleted or shrunk. Idempotent.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partitions < 1 {
				return usageErrorf("--partitions must be at least 1")
			}
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			t, err := kf.transport(cmd.Context(), "spine-topics", log)
			if err != nil {
				return err
			}
			defer t.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			states, err := t.ApplyCatalog(ctx, cat, partitions)
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
	kf.add(cmd)
	cmd.Flags().Int32Var(&partitions, "partitions", 3, "partitions of each topic, at least")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}
