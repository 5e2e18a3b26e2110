package catalog_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/inopsio/spine/catalog"
)

const changelogPath = "../docs/event-schemas/CHANGELOG.md"

var (
	changelogEvent   = regexp.MustCompile(`^## ([a-z0-9_.]+)\s*$`)
	changelogVersion = regexp.MustCompile(`^- ([0-9]+\.[0-9]+\.[0-9]+) — (.+)$`)
)

// readChangelog returns event → versions in file order.
func readChangelog(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(changelogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	current := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := changelogEvent.FindStringSubmatch(line); m != nil {
			current = m[1]
			if _, dup := out[current]; dup {
				t.Errorf("%s:%d: event %s has two sections", changelogPath, n, current)
			}
			out[current] = nil
			continue
		}
		if strings.HasPrefix(line, "- ") && current != "" {
			m := changelogVersion.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s:%d: %q is not '- <version> — <change>'", changelogPath, n, line)
				continue
			}
			out[current] = append(out[current], m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every schema version of every event is in the changelog, and the changelog
// names nothing the catalog lacks (spec §5: change tracking).
func TestChangelogListsEveryVersion(t *testing.T) {
	logged := readChangelog(t)
	cat := catalog.MustDefault()
	for _, e := range cat.Events() {
		got, ok := logged[e.Name]
		if !ok {
			t.Errorf("%s: no '## %s' section in %s", e.Name, e.Name, changelogPath)
			continue
		}
		for _, v := range e.Versions {
			if !slices.Contains(got, v.Version) {
				t.Errorf("%s %s: missing from %s; add '- %s — <what changed>'", e.Name, v.Version, changelogPath, v.Version)
			}
		}
		for _, v := range got {
			if e.Version(v) == nil {
				t.Errorf("%s %s: in %s but not in the catalog", e.Name, v, changelogPath)
			}
		}
	}
	for name := range logged {
		if _, ok := cat.Lookup(name); !ok {
			t.Errorf("%s: section in %s for an event the catalog lacks", name, changelogPath)
		}
	}
}
