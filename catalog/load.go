package catalog

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"sigs.k8s.io/yaml"
)

// file is the shape of catalog.yaml.
type file struct {
	Defaults struct {
		PartitionKey string   `json:"partition_key"`
		RetryDelays  []string `json:"retry_delays"`
	} `json:"defaults"`
	Categories []struct {
		Name  Category `json:"name"`
		Layer string   `json:"layer"`
	} `json:"categories"`
	Events []struct {
		Name         string   `json:"name"`
		Category     Category `json:"category"`
		Description  string   `json:"description"`
		Topic        string   `json:"topic"`
		Source       string   `json:"source"`
		Consumers    []string `json:"consumers"`
		Schema       string   `json:"schema"`
		Versions     []string `json:"versions"`
		PartitionKey string   `json:"partition_key"`
		Ordering     Ordering `json:"ordering"`
		OrderingWhy  string   `json:"ordering_why"`
		Bridge       string   `json:"bridge"`
		Destination  string   `json:"destination"`
	} `json:"events"`
}

// LoadError lists every problem found in a catalog.
type LoadError struct{ Problems []string }

func (e *LoadError) Error() string {
	return "catalog: " + strings.Join(e.Problems, "; ")
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	serviceRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	schemaRE  = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*-schema-v([0-9]+)$`)
	semverRE  = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
)

// Load reads and checks catalog.yaml and the schemas it names from fsys.
func Load(fsys fs.FS) (*Catalog, error) {
	raw, err := fs.ReadFile(fsys, "catalog.yaml")
	if err != nil {
		return nil, fmt.Errorf("catalog: read catalog.yaml: %w", err)
	}
	var f file
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		return nil, fmt.Errorf("catalog: parse catalog.yaml: %w", err)
	}

	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	delays := make([]time.Duration, 0, len(f.Defaults.RetryDelays))
	for _, s := range f.Defaults.RetryDelays {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad("defaults.retry_delays: %q is not a positive duration", s)
		}
		delays = append(delays, d)
	}
	if len(delays) == 0 {
		bad("defaults.retry_delays: at least one delay is required")
	}
	layers := map[Category]string{}
	for _, c := range f.Categories {
		layers[c.Name] = c.Layer
	}
	for _, c := range []Category{Core, CRM, ERP, Workflow, InoSec, Analytics, Bridge} {
		if layers[c] == "" {
			bad("categories: %q is missing or has no layer", c)
		}
	}

	c := &Catalog{byName: map[string]*Event{}}
	topics := map[string]string{}
	for i, fe := range f.Events {
		where := fmt.Sprintf("events[%d] (%s)", i, fe.Name)
		e := &Event{
			Name:         fe.Name,
			Category:     fe.Category,
			Layer:        layers[fe.Category],
			Description:  fe.Description,
			Topic:        fe.Topic,
			Source:       fe.Source,
			Consumers:    fe.Consumers,
			SchemaName:   fe.Schema,
			PartitionKey: fe.PartitionKey,
			Retry:        RetryPolicy{Ordering: fe.Ordering, Delays: slices.Clone(delays), Why: fe.OrderingWhy},
			Bridge:       fe.Bridge,
			Destination:  fe.Destination,
		}
		if e.Topic == "" {
			e.Topic = e.Name
		}
		if e.PartitionKey == "" {
			e.PartitionKey = f.Defaults.PartitionKey
		}
		if !nameRE.MatchString(e.Name) {
			bad("%s: name is not lower-case dot-separated words", where)
		}
		if _, dup := c.byName[e.Name]; dup {
			bad("%s: duplicate event name", where)
		}
		if other, dup := topics[e.Topic]; dup {
			bad("%s: topic %q is also used by %s", where, e.Topic, other)
		}
		topics[e.Topic] = e.Name
		if layers[e.Category] == "" {
			bad("%s: unknown category %q", where, e.Category)
		}
		if e.Description == "" {
			bad("%s: description is required", where)
		}
		for _, s := range append([]string{e.Source}, e.Consumers...) {
			if !serviceRE.MatchString(s) {
				bad("%s: %q is not a service name", where, s)
			}
		}
		switch e.Retry.Ordering {
		case NonBlocking, Strict:
		default:
			bad("%s: ordering must be %q or %q", where, NonBlocking, Strict)
		}
		if e.Retry.Why == "" {
			bad("%s: ordering_why is required: say why this ordering fits the domain", where)
		}
		if (e.Category == Bridge) != (e.Destination != "") {
			bad("%s: destination is required for bridge events and only for them", where)
		}
		m := schemaRE.FindStringSubmatch(e.SchemaName)
		if m == nil {
			bad("%s: schema %q is not a schema name like crm-lead-schema-v1", where, e.SchemaName)
		}
		if len(fe.Versions) == 0 {
			bad("%s: at least one schema version is required", where)
		}
		for j, v := range fe.Versions {
			sv, err := loadVersion(fsys, e, v)
			if err != nil {
				bad("%s: %v", where, err)
				continue
			}
			if j > 0 && !semverLess(e.Versions[len(e.Versions)-1].Version, v) {
				bad("%s: version %s is not newer than the one before it", where, v)
			}
			if m != nil && !strings.HasPrefix(v, m[2]+".") {
				bad("%s: version %s does not belong to schema %s (major %s)", where, v, e.SchemaName, m[2])
			}
			e.Versions = append(e.Versions, sv)
		}
		c.events = append(c.events, e)
		c.byName[e.Name] = e
	}

	for _, e := range c.events {
		if e.Bridge == "" {
			continue
		}
		b, ok := c.byName[e.Bridge]
		switch {
		case !ok || b.Category != Bridge:
			bad("%s: bridge %q is not a bridge event of the catalog", e.Name, e.Bridge)
			continue
		case e.Category == Bridge:
			bad("%s: a bridge event cannot feed another bridge event", e.Name)
		case !slices.Contains(e.Consumers, b.Source):
			bad("%s: feeds %s, so its consumers must include %s, which produces it", e.Name, b.Name, b.Source)
		}
		b.FedBy = append(b.FedBy, e.Name)
	}
	for _, e := range c.events {
		if e.Category == Bridge && len(e.FedBy) == 0 {
			bad("%s: no event feeds this bridge event", e.Name)
		}
		for _, sv := range e.Versions {
			if !hasRequiredProperty(sv.Schema, e.PartitionKey) {
				bad("%s %s: partition key %q is not a required top-level property of the schema", e.Name, sv.Version, e.PartitionKey)
			}
		}
	}
	if len(problems) > 0 {
		return nil, &LoadError{Problems: problems}
	}
	return c, nil
}

func loadVersion(fsys fs.FS, e *Event, v string) (*SchemaVersion, error) {
	if !semverRE.MatchString(v) {
		return nil, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", v)
	}
	p := path.Join("schemas", e.Name, "v"+v+".json")
	raw, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", v, err)
	}
	// Strict decoding: a duplicated keyword would be read differently by
	// different validators.
	var doc map[string]any
	if err := jsonv2.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", p, err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("%s: $schema must be https://json-schema.org/draft/2020-12/schema", p)
	}
	pii, err := piiPaths(doc, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &SchemaVersion{Event: e.Name, Version: v, Path: p, Schema: raw, PII: pii}, nil
}

// piiPaths collects the properties tagged PII, descending into nested
// objects. Tags inside arrays or combinators are refused: the encryptor
// addresses fields by path and would silently miss them.
func piiPaths(schema map[string]any, prefix string) ([]string, error) {
	var out []string
	props, _ := schema["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p, _ := props[n].(map[string]any)
		full := prefix + n
		if isPII(p) {
			if p["type"] != "string" {
				return nil, fmt.Errorf("PII field %q must be of type string: only strings are encrypted", full)
			}
			out = append(out, full)
		}
		sub, err := piiPaths(p, full+".")
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	for _, k := range piiForbiddenUnder {
		if v, ok := schema[k]; ok && containsPII(v) {
			return nil, fmt.Errorf("PII tag under %q at %q: tag only properties of objects", k, strings.TrimSuffix(prefix, "."))
		}
	}
	return out, nil
}

// piiForbiddenUnder are the keywords under which a PII tag could not be
// addressed by a field path.
var piiForbiddenUnder = []string{
	"items", "prefixItems", "contains", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
	"additionalProperties", "patternProperties", "propertyNames", "dependentSchemas",
	"unevaluatedProperties", "unevaluatedItems", "$defs",
}

func isPII(p map[string]any) bool {
	tags, _ := p["confluent:tags"].([]any)
	return slices.Contains(tags, any("PII"))
}

func containsPII(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if isPII(v) {
			return true
		}
		for _, x := range v {
			if containsPII(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if containsPII(x) {
				return true
			}
		}
	}
	return false
}

func hasRequiredProperty(raw []byte, name string) bool {
	var doc struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return false
	}
	_, ok := doc.Properties[name]
	return ok && slices.Contains(doc.Required, name)
}

// semverLess compares two MAJOR.MINOR.PATCH versions.
func semverLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}
