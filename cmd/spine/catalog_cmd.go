package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/catalog"
)

func newCatalogCmd() *cobra.Command {
	return group("catalog", "Inspect the event catalog", newCatalogListCmd())
}

// catalogEntry is the JSON shape of `spine catalog list --json`; scripts
// rely on its field names.
type catalogEntry struct {
	Name         string   `json:"name"`
	Category     string   `json:"category"`
	Layer        string   `json:"layer"`
	Description  string   `json:"description"`
	Topic        string   `json:"topic"`
	Source       string   `json:"source"`
	Consumers    []string `json:"consumers"`
	Schema       string   `json:"schema"`
	Version      string   `json:"version"`
	Versions     []string `json:"versions"`
	PartitionKey string   `json:"partition_key"`
	PII          []string `json:"pii"`
	Ordering     string   `json:"ordering"`
	RetryDelays  []string `json:"retry_delays"`
	Bridge       string   `json:"bridge,omitempty"`
	Destination  string   `json:"destination,omitempty"`
	FedBy        []string `json:"fed_by,omitempty"`
}

func newCatalogListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List every event of the catalog",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			entries := make([]catalogEntry, 0, len(cat.Events()))
			for _, e := range cat.Events() {
				entries = append(entries, toEntry(e))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tCATEGORY\tSOURCE\tSCHEMA\tVERSION\tORDERING\tPII\tBRIDGE")
			for _, e := range entries {
				bridge := e.Bridge
				if e.Destination != "" {
					bridge = "→ " + e.Destination
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Category, e.Source, e.Schema,
					e.Version, e.Ordering, strings.Join(e.PII, ","), bridge)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func toEntry(e *catalog.Event) catalogEntry {
	versions := make([]string, len(e.Versions))
	for i, v := range e.Versions {
		versions[i] = v.Version
	}
	delays := make([]string, len(e.Retry.Delays))
	for i, d := range e.Retry.Delays {
		delays[i] = d.String()
	}
	pii := e.PII()
	if pii == nil {
		pii = []string{}
	}
	return catalogEntry{
		Name: e.Name, Category: string(e.Category), Layer: e.Layer, Description: e.Description,
		Topic: e.Topic, Source: e.Source, Consumers: e.Consumers, Schema: e.SchemaName,
		Version: e.Current().Version, Versions: versions, PartitionKey: e.PartitionKey, PII: pii,
		Ordering: string(e.Retry.Ordering), RetryDelays: delays, Bridge: e.Bridge,
		Destination: e.Destination, FedBy: e.FedBy,
	}
}
