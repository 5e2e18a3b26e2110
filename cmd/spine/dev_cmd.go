package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/devserver"
)

func newDevCmd() *cobra.Command {
	var cfg devserver.Config
	cmd := &cobra.Command{
		Use:   "dev [--data-dir DIR] [--kafka-addr HOST:PORT] [--http-addr HOST:PORT]",
		Short: "Run the whole platform in one process",
		Long: "Run the platform on one machine: the embedded Kafka-protocol broker with\n" +
			"every catalog topic (any Kafka client can connect), the local schema\n" +
			"registry over the Confluent REST API, and a dev OIDC token issuer at\n" +
			"http://<http-addr>/realms/spine with a client per catalog service and\n" +
			"spine-cli. The first start creates the master key that encrypts PII\n" +
			"(<data-dir>/keys/master.key). Everything persists in the data dir, where\n" +
			"spine publish, tail and consume find the keyring and the issuer with no\n" +
			"other setup. Ctrl-C stops it cleanly.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = newLogger(cmd.ErrOrStderr(), slog.LevelInfo)
			s, err := devserver.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return s.Close(ctx)
		},
	}
	dataDirFlag(cmd, &cfg.DataDir)
	cmd.Flags().StringVar(&cfg.KafkaAddr, "kafka-addr", devserver.DefaultKafkaAdr, "address of the embedded Kafka broker")
	cmd.Flags().StringVar(&cfg.HTTPAddr, "http-addr", devserver.DefaultHTTPAddr, "address of the HTTP server (schema registry, token issuer, health)")
	return cmd
}
