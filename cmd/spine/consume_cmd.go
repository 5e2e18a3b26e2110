package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/exechandler"
)

func newConsumeCmd() *cobra.Command {
	var (
		brokers, group, command string
		events                  []string
		fromBeginning           bool
		concurrency             int
		timeout                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "consume [--brokers LIST] --group NAME [--event NAME]... [--from-beginning] --exec CMD",
		Short: "Run a command once per event: a consumer for any stack",
		Long: "Consume events as a member of a consumer group and run CMD (through sh -c)\n" +
			"once per event, with the JSON envelope {\"header\":…,\"payload\":…} on stdin and\n" +
			"SPINE_EVENT_ID, SPINE_EVENT_NAME, SPINE_TENANT_ID, SPINE_TRACE_ID and\n" +
			"SPINE_ATTEMPT in its environment. Exit 0: handled. Exit 65: permanent\n" +
			"failure, straight to <topic>.dlq. Any other exit: retried after 0.5 s, 2 s,\n" +
			"8 s and 32 s, then dead-lettered.\n" +
			"Duplicates (same event_id) are skipped while this process runs.\n" +
			"A new group starts at the end of the topics unless --from-beginning.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if group == "" || command == "" {
				return usageErrorf("--group and --exec are required")
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			topics, err := topicsOf(cat, events)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			handler, err := exechandler.New(exechandler.Config{
				Command: command, Timeout: timeout, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelInfo)
			t, err := kafka.New(kafka.Config{Brokers: splitBrokers(brokers), ClientID: "spine-consume", Logger: log})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer t.Close()
			client, err := bus.New(t, bus.WithLogger(log))
			if err != nil {
				return err
			}
			handler = dedup.Middleware(dedup.NewMemory(dedup.DefaultTTL), group, dedup.WithLogger(log))(handler)
			log.Info("consuming", "group", group, "topics", topics, "command", command)
			return client.Subscribe(cmd.Context(), bus.Subscription{
				Group: group, Topics: topics, FromBeginning: fromBeginning, Concurrency: concurrency,
			}, handler)
		},
	}
	brokersFlag(cmd, &brokers)
	cmd.Flags().StringVar(&group, "group", "", "consumer group (required)")
	cmd.Flags().StringArrayVar(&events, "event", nil, "only this event (repeatable; default: every catalog event)")
	cmd.Flags().BoolVar(&fromBeginning, "from-beginning", false, "a new group starts at the oldest event instead of the end")
	cmd.Flags().StringVar(&command, "exec", "", "command to run per event, through sh -c (required)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 4, "commands running at once (one at a time per tenant)")
	cmd.Flags().DurationVar(&timeout, "timeout", exechandler.DefaultTimeout, "longest a command may run for one event")
	return cmd
}
