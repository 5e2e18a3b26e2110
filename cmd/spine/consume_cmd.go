package main

import (
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/dedup"
	"github.com/inopsio/spine/exechandler"
)

func newConsumeCmd() *cobra.Command {
	var (
		kf             kafkaFlags
		group, command string
		service        string
		events         []string
		fromBeginning  bool
		concurrency    int
		timeout        time.Duration
		conn           keysConn
		aud            auditConn
		tokens         tokenFlags
	)
	cmd := &cobra.Command{
		Use:   "consume [--brokers LIST] [--data-dir DIR] --group NAME [--service NAME] [--event NAME]... [--from-beginning] [--issuer URL | --no-verify] --exec CMD",
		Short: "Run a command once per event: a consumer for any stack",
		Long: "Consume events as a member of a consumer group and run CMD (through sh -c)\n" +
			"once per event, with the JSON envelope {\"header\":…,\"payload\":…} on stdin and\n" +
			"SPINE_EVENT_ID, SPINE_EVENT_NAME, SPINE_TENANT_ID, SPINE_TRACE_ID and\n" +
			"SPINE_ATTEMPT in its environment. Exit 0: handled. Exit 65: permanent\n" +
			"failure, straight to <topic>.dlq. Any other exit: retried after 0.5 s, 2 s,\n" +
			"8 s and 32 s, then dead-lettered.\n" +
			"Duplicates (same event_id) are skipped while this process runs.\n" +
			"A new group starts at the end of the topics unless --from-beginning.\n" +
			"Security (spec §9): every record's service token is verified against the\n" +
			"dev issuer recorded in the data dir by spine dev, or --issuer (a record\n" +
			"whose token is missing, forged or not its producer's is dead-lettered with\n" +
			"kind auth); PII fields reach CMD decrypted when the keyring is at hand (the\n" +
			"data dir, or Vault / PostgreSQL as for spine keys), as ciphertext otherwise;\n" +
			"every event with PII is recorded in the audit trail as service:<--service>.\n" +
			"With --service, only topics whose events list it as a consumer are read.",
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
			if cmd.Flags().Changed("service") && len(events) == 0 {
				if topics = consumableTopics(cat, service); len(topics) == 0 {
					return usageErrorf("--service %q: the catalog lists it as the consumer of no event", service)
				}
			}
			handler, err := exechandler.New(exechandler.Config{
				Command: command, Timeout: timeout, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelInfo)
			if service == "" {
				service = group
			}
			opts, closeSec, err := consumeSecurity(cmd, &conn, &aud, &tokens, cat, service, log)
			if err != nil {
				return err
			}
			defer closeSec()
			if cmd.Flags().Changed("service") {
				opts = append(opts, bus.WithSource(service))
			}
			t, err := kf.transport(cmd.Context(), "spine-consume", log)
			if err != nil {
				return err
			}
			defer t.Close()
			client, err := bus.New(t, append(opts, bus.WithLogger(log))...)
			if err != nil {
				return err
			}
			handler = dedup.Middleware(dedup.NewMemory(dedup.DefaultTTL), group, dedup.WithLogger(log))(handler)
			log.Info("consuming", "group", group, "service", service, "topics", topics, "command", command)
			err = client.Subscribe(cmd.Context(), bus.Subscription{
				Group: group, Topics: topics, FromBeginning: fromBeginning, Concurrency: concurrency,
			}, handler)
			var ge *bus.ConsumeGrantError
			if errors.As(err, &ge) {
				return &exitError{code: exitUsage, err: err}
			}
			return err
		},
	}
	kf.add(cmd)
	cmd.Flags().StringVar(&group, "group", "", "consumer group (required)")
	cmd.Flags().StringVar(&service, "service", "", "the catalog service this consumer is, for the audit trail and the consume grant (default: the group, without the grant check)")
	cmd.Flags().StringArrayVar(&events, "event", nil, "only this event (repeatable; default: every catalog event, or with --service every event it consumes)")
	cmd.Flags().BoolVar(&fromBeginning, "from-beginning", false, "a new group starts at the oldest event instead of the end")
	cmd.Flags().StringVar(&command, "exec", "", "command to run per event, through sh -c (required)")
	cmd.Flags().IntVar(&concurrency, "concurrency", 4, "commands running at once (one at a time per tenant)")
	cmd.Flags().DurationVar(&timeout, "timeout", exechandler.DefaultTimeout, "longest a command may run for one event")
	conn.add(cmd)
	aud.add(cmd)
	tokens.addVerifier(cmd)
	return cmd
}

// consumeSecurity returns the client options of a consumer: the token
// verifier (unless --no-verify), the PII cipher when the keyring is at
// hand, and the audit trail, recording as service:<service>; and the func
// that releases what it opened.
func consumeSecurity(cmd *cobra.Command, conn *keysConn, aud *auditConn, tokens *tokenFlags, cat *catalog.Catalog,
	service string, log *slog.Logger) ([]bus.Option, func(), error) {
	ctx := cmd.Context()
	var opts []bus.Option
	v, err := tokens.verifier(ctx, conn.dataDir, log)
	if err != nil {
		return nil, nil, err
	}
	if v != nil {
		opts = append(opts, bus.WithTokenVerifier(v))
	}
	actor := "service:" + service
	trail, err := aud.open(ctx, conn.dataDir)
	if err != nil {
		return nil, nil, err
	}
	// Handlers run concurrently (--concurrency): group commit merges their
	// audit rows into one transaction instead of one each, queued on the
	// trail's lock. Close drains it and closes the trail.
	store := audit.NewBatcher(trail, audit.BatchConfig{})
	opts = append(opts, bus.WithAudit(store, actor))
	closeStore := func() { _ = store.Close() }
	if !conn.keyringAvailable() {
		log.Warn("no keyring: the command receives PII fields as ciphertext", "data_dir", conn.dataDir)
		return opts, closeStore, nil
	}
	// A consumer only decrypts: it creates no keys, so the keyring has no
	// audit of its own.
	ciph, closeKeys, err := openCipher(cmd, conn, cat, nil, "")
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return append(opts, bus.WithPII(ciph)), func() { closeKeys(); closeStore() }, nil
}

// consumableTopics returns the topics service may read: those whose every
// event lists it as a consumer (the bus's consume grant).
func consumableTopics(cat *catalog.Catalog, service string) []string {
	allowed := map[string]bool{}
	var order []string
	for _, e := range cat.Events() {
		ok, seen := allowed[e.Topic]
		if !seen {
			order = append(order, e.Topic)
			ok = true
		}
		allowed[e.Topic] = ok && slices.Contains(e.Consumers, service)
	}
	var topics []string
	for _, t := range order {
		if allowed[t] {
			topics = append(topics, t)
		}
	}
	return topics
}
