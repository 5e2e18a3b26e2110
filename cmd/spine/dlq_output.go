package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/inopsio/spine/dlq"
)

// reportText prints a replay's or purge's report for people.
func reportText(w io.Writer, rep *dlq.Report) error {
	verb := map[string]string{"replay": "replayed", "purge": "purged"}[rep.Action]
	if rep.DryRun {
		verb = "would be " + verb
	}
	fmt.Fprintf(w, "%s matched, %d %s, %d skipped", plural(rep.Matched, "dead letter"), len(rep.Done), verb, len(rep.Skipped))
	if !rep.DryRun {
		fmt.Fprintf(w, " (command %s", rep.Command)
		if len(rep.AuditRows) == 2 {
			fmt.Fprintf(w, ", audit rows %d-%d", rep.AuditRows[0], rep.AuditRows[1])
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	if len(rep.Done) > 0 {
		fmt.Fprintln(w)
		if err := letterTable(w, rep.Done, false); err != nil {
			return err
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.ID, s.Reason)
	}
	for part, off := range rep.Deleted {
		fmt.Fprintf(w, "deleted the records of %s below offset %d\n", part, off)
	}
	return nil
}

// letterTable prints letters as a table; status adds the resolution.
func letterTable(w io.Writer, letters []*dlq.Letter, status bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "ID\tEVENT\tTENANT\tKIND\tATTEMPTS\tLAST FAILURE\tERROR"
	if status {
		head = "ID\tSTATUS\tEVENT\tTENANT\tKIND\tATTEMPTS\tLAST FAILURE\tERROR"
	}
	fmt.Fprintln(tw, head)
	for _, l := range letters {
		attempts, last := "-", "-"
		if l.Attempts != nil {
			attempts = fmt.Sprint(*l.Attempts)
		}
		if l.LastFailure != nil {
			last = l.LastFailure.Format(time.RFC3339)
		}
		cols := []string{l.ID, orDash(l.EventName), orDash(l.TenantID), orDash(l.ErrorKind), attempts, last, oneLine(l.Error, 60)}
		if status {
			cols = append(cols[:1], append([]string{l.Status}, cols[1:]...)...)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine fits an error message into a table cell: first line, clipped.
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return orDash(s)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progressBar returns a progress bar factory for long replays, or nil when
// stderr is not a terminal (logs and pipes get the report only).
func progressBar(w io.Writer, paced bool) func(int) dlq.Progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(total int) dlq.Progress {
		if !paced && total < 100 {
			return nil
		}
		return bar{progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionShowCount(),
			progressbar.OptionSetDescription("dead letters"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())}
	}
}

type bar struct{ b *progressbar.ProgressBar }

func (b bar) Add(n int) { _ = b.b.Add(n) }
func (b bar) Finish()   { _ = b.b.Finish() }

// osUser names who runs the command, for the audit trail.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
