package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/dlq"
)

func newDlqCmd() *cobra.Command {
	c := group("dlq", "Inspect, replay and purge dead letters (<topic>.dlq)",
		newDlqListCmd(), newDlqShowCmd(), newDlqReplayCmd(), newDlqPurgeCmd())
	c.Long = "Dead letters are records a consumer could not handle, kept on <topic>.dlq for\n" +
		"seven days with headers saying why. Replays and purges resolve them: they are\n" +
		"recorded in <topic>.dlq.resolved and in the audit trail, and never done twice.\n" +
		"docs/operations/dlq-handbook.md says what to do with each kind of failure."
	return c
}

// dlqConn are the flags that say where Kafka is.
type dlqConn struct {
	kafka     kafkaFlags
	namespace string
}

func (c *dlqConn) add(cmd *cobra.Command) {
	c.kafka.add(cmd)
	// Tests isolate themselves on a shared Kafka with a namespace; operators
	// have no use for it until environments share a cluster.
	cmd.Flags().StringVar(&c.namespace, "namespace", "", "topic name prefix on the wire")
	_ = cmd.Flags().MarkHidden("namespace")
}

// open connects a Manager; close releases what it opened.
func (c *dlqConn) open(ctx context.Context, log *slog.Logger) (m *dlq.Manager, close func(), err error) {
	cfg, err := c.kafka.config(ctx, "spine-dlq", log)
	if err != nil {
		return nil, nil, err
	}
	cfg.Namespace = c.namespace
	t, err := kafka.New(cfg)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	closeAll := func() { t.Close() }
	if m, err = dlq.New(t, t, dlq.WithLogger(log)); err != nil {
		closeAll()
		return nil, nil, err
	}
	return m, closeAll, nil
}

// dlqFilter are the flags that select dead letters.
type dlqFilter struct {
	events                   []string
	tenant, errText, kind    string
	consumerGroup, sinceText string
}

func (f *dlqFilter) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.events, "event", nil, "only dead letters of this event (repeatable)")
	fl.StringVar(&f.tenant, "tenant", "", "only dead letters of this tenant_id")
	fl.StringVar(&f.errText, "error", "", "only dead letters whose error contains TEXT (any case)")
	fl.StringVar(&f.kind, "kind", "", "only dead letters of this error kind: decode, unknown, schema, mismatch, handler, panic")
	fl.StringVar(&f.consumerGroup, "group", "", "only dead letters of this consumer group")
	fl.StringVar(&f.sinceText, "since", "", "only dead letters since TIME (RFC 3339) or for the last DURATION (90m, 36h, 7d)")
}

// filter builds the dlq.Filter; IDs are dead letters named as arguments.
// Every error is a usage error.
func (f *dlqFilter) filter(ids []string) (dlq.Filter, error) {
	out := dlq.Filter{Events: f.events, Tenant: f.tenant, Error: f.errText, Kind: f.kind, Group: f.consumerGroup}
	cat, err := catalog.Default()
	if err != nil {
		return out, err
	}
	for _, e := range f.events {
		if _, err := cat.Event(e); err != nil {
			return out, usageErrorf("--event: %v", err)
		}
	}
	if f.sinceText != "" {
		since, err := dlq.ParseSince(f.sinceText, time.Now())
		if err != nil {
			return out, usageErrorf("%v", err)
		}
		out.Since = since
	}
	for _, raw := range ids {
		id, err := dlq.ParseID(raw)
		if err != nil {
			return out, usageErrorf("%v", err)
		}
		out.IDs = append(out.IDs, id)
	}
	return out, nil
}

// dlqUsage turns a Manager error that is the caller's fault into exit 2.
func dlqUsage(err error) error {
	var ue *exitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return err
	case errors.Is(err, dlq.ErrInvalidAction), errors.As(err, new(*catalog.UnknownEventError)):
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

func newDlqListCmd() *cobra.Command {
	var (
		conn        dlqConn
		filt        dlqFilter
		asJSON, all bool
	)
	cmd := &cobra.Command{
		Use:   "list [--event NAME]... [--tenant ID] [--error TEXT] [--kind KIND] [--group NAME] [--since TIME] [--all] [--json]",
		Short: "List the open dead letters",
		Long: "List dead letters, oldest first per DLQ partition. Resolved ones (replayed or\n" +
			"purged) are hidden unless --all. With --json, a JSON array; fields the\n" +
			"record's headers do not give are \"\" or null. Reads without a consumer group.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := filt.filter(nil)
			if err != nil {
				return err
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			m, closeAll, err := conn.open(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer closeAll()
			letters, err := m.List(cmd.Context(), f, all)
			if err != nil {
				return dlqUsage(err)
			}
			if asJSON {
				if letters == nil {
					letters = []*dlq.Letter{}
				}
				return writeJSON(cmd.OutOrStdout(), letters)
			}
			if len(letters) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no dead letters match")
				return nil
			}
			return letterTable(cmd.OutOrStdout(), letters, all)
		},
	}
	conn.add(cmd)
	filt.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "include resolved dead letters, with their resolution")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newDlqShowCmd() *cobra.Command {
	var conn dlqConn
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Print a dead letter whole: headers, key and value, as JSON",
		Long: "ID is the dead letter's position (lead.created.dlq/0/5), the position of the\n" +
			"record that failed (lead.created/0/42, read from spine-original-*), or an\n" +
			"event_id. Every match is printed as one JSON object (several when several\n" +
			"consumer groups dead-lettered the record, or the event failed again after a\n" +
			"replay). The value is shown as JSON when it is a Confluent-framed JSON\n" +
			"payload, else in base64; nothing is decrypted. Exit 1 when nothing matches.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := dlq.ParseID(args[0])
			if err != nil {
				return usageErrorf("%v", err)
			}
			log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
			m, closeAll, err := conn.open(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer closeAll()
			letters, err := m.Show(cmd.Context(), id)
			if err != nil {
				return err
			}
			for _, l := range letters {
				if err := writeJSON(cmd.OutOrStdout(), l.Show()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	conn.add(cmd)
	return cmd
}

// dlqAction are the flags of replay and purge.
type dlqAction struct {
	reason, actor, dataDir, postgres, auditTable string
	dryRun, asJSON                               bool
	rate                                         float64
}

func (a *dlqAction) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.reason, "reason", "", "why, for the audit trail (required unless --dry-run)")
	fl.StringVar(&a.actor, "actor", envOr("SPINE_ACTOR", ""), "who, for the audit trail ($SPINE_ACTOR; default the OS user)")
	fl.BoolVar(&a.dryRun, "dry-run", false, "print what would be done; change nothing")
	fl.BoolVar(&a.asJSON, "json", false, "print the report as JSON")
	dataDirFlag(cmd, &a.dataDir)
	fl.StringVar(&a.postgres, "postgres", envOr("SPINE_AUDIT_POSTGRES", ""), "PostgreSQL URL of the audit trail, instead of SQLite ($SPINE_AUDIT_POSTGRES)")
	fl.StringVar(&a.auditTable, "audit-table", audit.DefaultTable, "PostgreSQL table of the audit trail")
	_ = fl.MarkHidden("audit-table") // tests use a table each
}

// action checks the flags and opens the audit trail (not for a dry run,
// which writes nothing).
func (a *dlqAction) action(ctx context.Context) (dlq.Action, func(), error) {
	out := dlq.Action{Actor: a.actor, Reason: strings.TrimSpace(a.reason), DryRun: a.dryRun, Rate: a.rate}
	if out.Actor == "" {
		out.Actor = osUser()
	}
	switch {
	case a.rate < 0:
		return out, nil, usageErrorf("--rate %v: want events per second, > 0", a.rate)
	case a.dryRun:
		return out, func() {}, nil
	case out.Reason == "":
		return out, nil, usageErrorf("--reason is required: say why, for the audit trail")
	case out.Actor == "":
		return out, nil, usageErrorf("--actor is required: the OS user is unknown")
	}
	var err error
	out.Audit, err = openAuditTrail(ctx, a.dataDir, a.postgres, a.auditTable)
	if err != nil {
		return out, nil, err
	}
	return out, func() { _ = out.Audit.Close() }, nil
}

func newDlqReplayCmd() *cobra.Command {
	var (
		conn dlqConn
		filt dlqFilter
		act  dlqAction
	)
	cmd := &cobra.Command{
		Use:   "replay [ID...] [filters] [--dry-run] [--rate N] --reason TEXT",
		Short: "Publish dead letters again to their original topics",
		Long: "Publish the open dead letters that match (IDs as in 'show', and the filters\n" +
			"of 'list') to their original topics with the same key, value and envelope\n" +
			"headers — the same event_id, so deduplication makes a replay safe — without\n" +
			"the failure headers, with spine-replay-count raised by one. Each replayed\n" +
			"letter is resolved (never replayed twice) and recorded in the audit trail.\n" +
			"Records that are not Spine events are skipped: purge them. Exit 1 if the\n" +
			"replay stopped on an error.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDlqAction(cmd, args, &conn, &filt, &act, (*dlq.Manager).Replay)
		},
	}
	conn.add(cmd)
	filt.add(cmd)
	act.add(cmd)
	cmd.Flags().Float64Var(&act.rate, "rate", 0, "at most N events per second (default: as fast as the broker takes them)")
	return cmd
}

func newDlqPurgeCmd() *cobra.Command {
	var (
		conn dlqConn
		filt dlqFilter
		act  dlqAction
	)
	cmd := &cobra.Command{
		Use:   "purge [ID...] [filters] [--dry-run] --reason TEXT",
		Short: "Resolve dead letters without replaying them",
		Long: "Mark the open dead letters that match as purged: they are no longer listed\n" +
			"(but with --all) and never replayed; each is recorded in the audit trail.\n" +
			"Kafka deletes no single record: where every dead letter of a partition up to\n" +
			"some offset is resolved, the records below it are deleted (DeleteRecords);\n" +
			"retention (seven days) removes the rest.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDlqAction(cmd, args, &conn, &filt, &act, (*dlq.Manager).Purge)
		},
	}
	conn.add(cmd)
	filt.add(cmd)
	act.add(cmd)
	return cmd
}

type dlqOp func(*dlq.Manager, context.Context, dlq.Filter, dlq.Action) (*dlq.Report, error)

func runDlqAction(cmd *cobra.Command, args []string, conn *dlqConn, filt *dlqFilter, act *dlqAction, op dlqOp) error {
	f, err := filt.filter(args)
	if err != nil {
		return err
	}
	a, closeAudit, err := act.action(cmd.Context())
	if err != nil {
		return err
	}
	defer closeAudit()
	a.Progress = progressBar(cmd.ErrOrStderr(), a.Rate > 0)
	log := newLogger(cmd.ErrOrStderr(), slog.LevelWarn)
	m, closeAll, err := conn.open(cmd.Context(), log)
	if err != nil {
		return err
	}
	defer closeAll()
	rep, err := op(m, cmd.Context(), f, a)
	if rep == nil {
		return dlqUsage(err)
	}
	if act.asJSON {
		if werr := writeJSON(cmd.OutOrStdout(), rep); werr != nil {
			return errors.Join(err, werr)
		}
	} else if werr := reportText(cmd.OutOrStdout(), rep); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}
