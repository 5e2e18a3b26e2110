package acl_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/inopsio/spine/acl"
	"github.com/inopsio/spine/catalog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden renders grants one per line, as `spine acl list` does, so a
// change to the catalog or the rules shows as a readable diff.
func golden(grants []acl.Grant) string {
	var b strings.Builder
	for _, g := range grants {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Principal, g.ResourceType, g.Pattern, g.Name, g.Operation, g.Host)
	}
	return b.String()
}

func TestFromCatalogGolden(t *testing.T) {
	cat := catalog.MustDefault()
	for _, tc := range []struct {
		file string
		opts acl.Options
	}{
		{"grants.golden", acl.Options{}},
		{"grants-staging-admin.golden", acl.Options{Namespace: "staging.", Admin: "spine-admin", PrincipalPrefix: "User:"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := golden(acl.FromCatalog(cat, tc.opts))
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./acl -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("grants differ from %s (go test ./acl -run Golden -update rewrites it):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// has reports whether grants hold principal's op on a resource.
func has(grants []acl.Grant, principal string, rt kmsg.ACLResourceType, p kmsg.ACLResourcePatternType, name string, op kmsg.ACLOperation) bool {
	return slices.Contains(grants, acl.Grant{Principal: principal, ResourceType: rt, Pattern: p, Name: name, Operation: op, Host: acl.AnyHost})
}

const (
	topic, group, cluster = kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster
	literal, prefixed     = kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	opRead, opWrite, opDe = kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe
)

// Every event of the catalog, every service: the producer alone writes the
// topic, consumers alone read it and own its dead-letter and retry topics,
// and nobody else holds anything on them.
func TestFromCatalogRules(t *testing.T) {
	cat := catalog.MustDefault()
	for _, opts := range []acl.Options{{}, {Namespace: "staging.", PrincipalPrefix: "User:env-", Admin: "ops"}} {
		t.Run(fmt.Sprintf("namespace %q prefix %q", opts.Namespace, opts.PrincipalPrefix), func(t *testing.T) {
			grants := acl.FromCatalog(cat, opts)
			if !isSorted(grants) {
				t.Error("grants are not sorted")
			}
			if again := acl.FromCatalog(cat, opts); !slices.Equal(again, grants) {
				t.Error("two calls gave different grants")
			}
			if c := slices.Compact(slices.Clone(grants)); len(c) != len(grants) {
				t.Errorf("%d duplicate grants", len(grants)-len(c))
			}
			services := map[string]bool{}
			for _, e := range cat.Events() {
				services[e.Source] = true
				for _, c := range e.Consumers {
					services[c] = true
				}
			}
			ns := opts.Namespace
			for _, e := range cat.Events() {
				tp := ns + e.Topic
				for s := range services {
					p := opts.Principal(s)
					isSource, isConsumer := s == e.Source, slices.Contains(e.Consumers, s)
					for _, c := range []struct {
						what string
						rt   kmsg.ACLResourceType
						pat  kmsg.ACLResourcePatternType
						name string
						op   kmsg.ACLOperation
						want bool
					}{
						{"write the topic", topic, literal, tp, opWrite, isSource},
						{"describe the topic", topic, literal, tp, opDe, isSource || isConsumer},
						{"read the topic", topic, literal, tp, opRead, isConsumer},
						{"write the dlq", topic, literal, tp + ".dlq", opWrite, isConsumer},
						{"read the dlq", topic, literal, tp + ".dlq", opRead, isConsumer},
						{"write retry topics", topic, prefixed, tp + ".retry-", opWrite, isConsumer},
						{"read retry topics", topic, prefixed, tp + ".retry-", opRead, isConsumer},
						{"write the resolution log", topic, literal, tp + ".dlq.resolved", opWrite, isConsumer},
					} {
						if got := has(grants, p, c.rt, c.pat, c.name, c.op); got != c.want {
							t.Errorf("%s (%s of %s): may %s = %v, want %v", p, roleOf(isSource, isConsumer), e.Name, c.what, got, c.want)
						}
					}
				}
			}
			for s := range services {
				p := opts.Principal(s)
				if !has(grants, p, group, prefixed, ns+s, opRead) && consumes(cat, s) {
					t.Errorf("%s may not read its consumer groups %s*", p, ns+s)
				}
				if !has(grants, p, cluster, literal, acl.ClusterName, kmsg.ACLOperationIdempotentWrite) {
					t.Errorf("%s lacks IDEMPOTENT_WRITE on the cluster", p)
				}
			}
			for _, g := range grants {
				if g.Host != acl.AnyHost {
					t.Errorf("%s: host %q", g, g.Host)
				}
				if g.ResourceType != cluster && !strings.HasPrefix(g.Name, ns) {
					t.Errorf("%s: name outside namespace %q", g, ns)
				}
				if g.Operation == kmsg.ACLOperationAll && g.Principal != opts.Principal(opts.Admin) {
					t.Errorf("%s: ALL granted to a service", g)
				}
			}
			admin := opts.Principal(opts.Admin)
			for _, rt := range []kmsg.ACLResourceType{topic, group} {
				if opts.Admin != "" && !has(grants, admin, rt, prefixed, ns, kmsg.ACLOperationAll) {
					t.Errorf("admin %s lacks ALL on %s %s*", admin, rt, ns)
				}
			}
		})
	}
}

func isSorted(grants []acl.Grant) bool {
	c := slices.Clone(grants)
	acl.Sort(c)
	return slices.Equal(c, grants)
}

func roleOf(source, consumer bool) string {
	switch {
	case source && consumer:
		return "source and consumer"
	case source:
		return "source"
	case consumer:
		return "consumer"
	}
	return "unrelated"
}

func consumes(cat *catalog.Catalog, service string) bool {
	for _, e := range cat.Events() {
		if slices.Contains(e.Consumers, service) {
			return true
		}
	}
	return false
}

// Without a namespace, the admin's "everything" is the literal wildcard:
// Kafka refuses an empty prefix.
func TestAdminWithoutNamespace(t *testing.T) {
	grants := acl.FromCatalog(catalog.MustDefault(), acl.Options{Admin: "spine-admin"})
	for _, rt := range []kmsg.ACLResourceType{topic, group} {
		if !has(grants, "User:spine-admin", rt, literal, "*", kmsg.ACLOperationAll) {
			t.Errorf("admin lacks ALL on %s *", rt)
		}
	}
	if !has(grants, "User:spine-admin", cluster, literal, acl.ClusterName, kmsg.ACLOperationAll) {
		t.Error("admin lacks ALL on the cluster")
	}
	if n := len(acl.FromCatalog(catalog.MustDefault(), acl.Options{})); len(grants) != n+3 {
		t.Errorf("%d grants with an admin, %d without: want exactly 3 more", len(grants), n)
	}
}

// A PREFIXED group grant on a service name would also cover the groups of a
// service whose name it prefixes.
func TestNoServiceNamePrefixesAnother(t *testing.T) {
	var services []string
	for _, e := range catalog.MustDefault().Events() {
		services = append(services, e.Source)
		services = append(services, e.Consumers...)
	}
	slices.Sort(services)
	services = slices.Compact(services)
	for _, a := range services {
		for _, b := range services {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("service %q is a prefix of %q: its group grant would cover the other's groups", a, b)
			}
		}
	}
}

func TestApplyRefusesInvalidGrants(t *testing.T) {
	ok := acl.Grant{Principal: "User:a", ResourceType: topic, Pattern: literal, Name: "t", Operation: opRead, Host: "*"}
	for name, mutate := range map[string]func(*acl.Grant){
		"no principal type":   func(g *acl.Grant) { g.Principal = "a" },
		"empty name":          func(g *acl.Grant) { g.Name = "" },
		"empty host":          func(g *acl.Grant) { g.Host = "" },
		"match pattern":       func(g *acl.Grant) { g.Pattern = kmsg.ACLResourcePatternTypeMatch },
		"any operation":       func(g *acl.Grant) { g.Operation = kmsg.ACLOperationAny },
		"cluster by any name": func(g *acl.Grant) { g.ResourceType = cluster },
		"transactional id":    func(g *acl.Grant) { g.ResourceType = kmsg.ACLResourceTypeTransactionalId },
	} {
		g := ok
		mutate(&g)
		// Validation comes before any request: no client is needed.
		if _, err := acl.Apply(t.Context(), nil, []acl.Grant{ok, g}, acl.ApplyOptions{}); !errors.Is(err, acl.ErrInvalidGrant) {
			t.Errorf("%s: %v, want ErrInvalidGrant", name, err)
		}
	}
}

func TestGrantString(t *testing.T) {
	g := acl.Grant{Principal: "User:crm-service", ResourceType: topic, Pattern: literal, Name: "lead.created", Operation: opWrite, Host: "*"}
	if s := g.String(); s != "User:crm-service WRITE TOPIC LITERAL lead.created" {
		t.Errorf("String() = %q", s)
	}
	g.Host = "10.0.0.1"
	if s := g.String(); !strings.HasSuffix(s, " from 10.0.0.1") {
		t.Errorf("String() = %q", s)
	}
}

func BenchmarkFromCatalog(b *testing.B) {
	cat := catalog.MustDefault()
	b.ReportAllocs()
	for b.Loop() {
		acl.FromCatalog(cat, acl.Options{Namespace: "staging.", Admin: "spine-admin"})
	}
}
