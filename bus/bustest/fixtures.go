package bustest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
)

// Fixtures builds valid events from the catalog's examples
// (catalog/testdata/examples/<event>.json) with fresh ids and tenants.
type Fixtures struct {
	Catalog  *catalog.Catalog
	examples map[string]map[string]json.RawMessage // event → top-level members
}

// LoadFixtures reads the example of every catalog event.
func LoadFixtures(t testing.TB) *Fixtures {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repoRoot(t), "catalog", "testdata", "examples")
	f := &Fixtures{Catalog: cat, examples: map[string]map[string]json.RawMessage{}}
	for _, e := range cat.Events() {
		b, err := os.ReadFile(filepath.Join(dir, e.Name+".json"))
		if err != nil {
			t.Fatalf("example of %s: %v", e.Name, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("example of %s: %v", e.Name, err)
		}
		if _, ok := m[e.PartitionKey]; !ok {
			t.Fatalf("example of %s has no partition key %q", e.Name, e.PartitionKey)
		}
		f.examples[e.Name] = m
	}
	return f
}

// Events returns every catalog event name, in catalog order.
func (f *Fixtures) Events() []string {
	var names []string
	for _, e := range f.Catalog.Events() {
		names = append(names, e.Name)
	}
	return names
}

// Topic returns the topic of an event.
func (f *Fixtures) Topic(t testing.TB, event string) string {
	t.Helper()
	e, err := f.Catalog.Event(event)
	if err != nil {
		t.Fatal(err)
	}
	return e.Topic
}

// Topics returns the distinct topics of events, and with dlq their retry
// and dead-letter topics too.
func (f *Fixtures) Topics(t testing.TB, dlq bool, events ...string) []string {
	t.Helper()
	var out []string
	for _, ev := range events {
		tp := f.Topic(t, ev)
		if !slices.Contains(out, tp) {
			out = append(out, tp)
			if dlq {
				out = append(out, bus.RetryTopics(f.Catalog, tp)...)
				out = append(out, bus.DLQTopic(tp))
			}
		}
	}
	return out
}

// Payload returns the example payload of event with its partition key set
// to tenant and the given top-level members replaced (values are marshalled
// to JSON; nil removes the member).
func (f *Fixtures) Payload(t testing.TB, event, tenant string, set map[string]any) []byte {
	t.Helper()
	b, err := f.payload(event, tenant, set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *Fixtures) payload(event, tenant string, set map[string]any) ([]byte, error) {
	ex, ok := f.examples[event]
	if !ok {
		return nil, fmt.Errorf("no example for %s", event)
	}
	e, _ := f.Catalog.Event(event)
	m := make(map[string]any, len(ex))
	for k, v := range ex {
		m[k] = v
	}
	m[e.PartitionKey] = tenant
	for k, v := range set {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return json.Marshal(m)
}

// Event returns a valid Outgoing of event for tenant, with a fresh event_id
// so the test knows it before publishing (and a retried publish keeps it).
func (f *Fixtures) Event(t testing.TB, event, tenant string) bus.Outgoing {
	t.Helper()
	o, err := f.event(event, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// event is Event for goroutines other than the test's.
func (f *Fixtures) event(event, tenant string) (bus.Outgoing, error) {
	p, err := f.payload(event, tenant, nil)
	return bus.Outgoing{Event: event, Payload: p, EventID: uuid.NewString()}, err
}

// Tenants returns n fresh tenant ids.
func Tenants(n int) []string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = uuid.NewString()
	}
	return ts
}

// LargeMetrics returns a valid metrics.published payload of exactly size
// bytes, or an error if the schema cannot hold that much. metrics.published
// is the event with the most room: up to 1000 metrics of 16 labels whose
// values are free text of up to 256 characters (about 5.6 MB in all).
func LargeMetrics(tenant string, size int) ([]byte, error) {
	type label struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type metric struct {
		Name   string  `json:"name"`
		Kind   string  `json:"kind"`
		Value  float64 `json:"value"`
		Unit   string  `json:"unit"`
		Labels []label `json:"labels"`
	}
	type payload struct {
		BatchID     string   `json:"batch_id"`
		TenantID    string   `json:"tenant_id"`
		WindowStart string   `json:"window_start"`
		WindowEnd   string   `json:"window_end"`
		Metrics     []metric `json:"metrics"`
		PublishedAt string   `json:"published_at"`
	}
	p := payload{BatchID: uuid.NewString(), TenantID: tenant, WindowStart: "2025-10-24T14:00:00Z",
		WindowEnd: "2025-10-24T14:05:00Z", PublishedAt: "2025-10-24T14:05:02Z"}
	const maxMetrics, maxLabels, maxValue = 1000, 16, 256
	// value is printable ASCII, one byte per character in JSON.
	value := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz-_", 7)[:maxValue]
	p.Metrics = []metric{}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	n := len(b) // grows by each metric's JSON and a comma
	for len(p.Metrics) < maxMetrics && n < size {
		m := metric{Name: fmt.Sprintf("bustest.large_%04d", len(p.Metrics)), Kind: "GAUGE", Value: float64(len(p.Metrics)), Unit: "By"}
		for i := range maxLabels {
			m.Labels = append(m.Labels, label{Name: fmt.Sprintf("l%02d", i), Value: value})
		}
		mb, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if len(p.Metrics) > 0 {
			n++
		}
		n += len(mb)
		p.Metrics = append(p.Metrics, m)
	}
	if n < size {
		return nil, fmt.Errorf("metrics.published holds at most %d bytes, not %d", n, size)
	}
	// Shorten label values from the end until the payload is exactly size.
	over := n - size
	for i := len(p.Metrics) - 1; i >= 0 && over > 0; i-- {
		for j := len(p.Metrics[i].Labels) - 1; j >= 0 && over > 0; j-- {
			v := p.Metrics[i].Labels[j].Value
			cut := min(over, len(v))
			p.Metrics[i].Labels[j].Value = v[:len(v)-cut]
			over -= cut
		}
	}
	b, err = json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("built %d bytes, want %d", len(b), size)
	}
	return b, nil
}
