package dlq

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
)

// Filter selects dead letters; every field set must match (and), the zero
// Filter matches every letter.
type Filter struct {
	// Events are catalog event names; a letter matches one of them by its
	// event_name header — or, when that header is unreadable, by sitting on
	// the event's dead-letter topic: a record that failed to decode on that
	// topic concerns whoever asks about the topic.
	Events []string
	Tenant string // tenant_id header (the key when the header is unreadable)
	// Error is a case-insensitive substring of spine-error-message.
	Error string
	Kind  string // spine-error-kind, exactly
	Group string // spine-consumer-group, exactly
	// Since keeps letters dead-lettered at or after it (spine-last-failure,
	// else the broker timestamp).
	Since time.Time
	// IDs, when given, keep only the letters one of them names.
	IDs []ID
}

// Describe is the filter as the audit trail records it.
func (f Filter) Describe() map[string]any {
	m := map[string]any{}
	if len(f.Events) > 0 {
		m["events"] = f.Events
	}
	for k, v := range map[string]string{"tenant": f.Tenant, "error": f.Error, "kind": f.Kind, "group": f.Group} {
		if v != "" {
			m[k] = v
		}
	}
	if !f.Since.IsZero() {
		m["since"] = event.FormatTimestamp(f.Since)
	}
	if len(f.IDs) > 0 {
		ids := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			ids[i] = id.String()
		}
		m["ids"] = ids
	}
	return m
}

// Match reports whether l passes the filter. cat maps events to topics.
func (f Filter) Match(cat *catalog.Catalog, l *Letter) bool {
	if len(f.Events) > 0 && !f.matchEvent(cat, l) {
		return false
	}
	if f.Tenant != "" && l.tenant() != f.Tenant {
		return false
	}
	if f.Error != "" && !strings.Contains(strings.ToLower(l.Error), strings.ToLower(f.Error)) {
		return false
	}
	if f.Kind != "" && l.ErrorKind != f.Kind {
		return false
	}
	if f.Group != "" && l.ConsumerGroup != f.Group {
		return false
	}
	if !f.Since.IsZero() && l.when().Before(f.Since) {
		return false
	}
	if len(f.IDs) == 0 {
		return true
	}
	for _, id := range f.IDs {
		if id.matches(l) {
			return true
		}
	}
	return false
}

func (f Filter) matchEvent(cat *catalog.Catalog, l *Letter) bool {
	for _, name := range f.Events {
		if l.EventName == name {
			return true
		}
		if l.EventName == "" {
			if e, err := cat.Event(name); err == nil && bus.DLQTopic(e.Topic) == l.Position.Topic {
				return true
			}
		}
	}
	return false
}

// topics returns the catalog topics whose dead letters the filter can
// match: those of its events and IDs, or every catalog topic.
func (f Filter) topics(cat *catalog.Catalog) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, name := range f.Events {
		e, err := cat.Event(name)
		if err != nil {
			return nil, err
		}
		add(e.Topic)
	}
	byID := len(f.IDs) > 0
	for _, id := range f.IDs {
		if id.topic() == "" {
			byID = false // an event_id may be on any topic
			break
		}
	}
	switch {
	case len(f.Events) > 0:
		// The events bound the topics; IDs on other topics match nothing.
	case byID:
		for _, id := range f.IDs {
			add(id.topic())
		}
	default:
		for _, e := range cat.Events() {
			add(e.Topic)
		}
	}
	return out, nil
}

// ParseSince reads a --since value: an RFC 3339 time, or a duration back
// from now ("90m", "36h", "7d").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2025-10-24T14:00:00Z) or a duration back from now (90m, 36h, 7d)", s)
}
