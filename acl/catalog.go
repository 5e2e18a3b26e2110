package acl

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/inopsio/spine/catalog"
)

// Options say how catalog services and names map onto the cluster.
type Options struct {
	// PrincipalPrefix makes a service's principal: PrincipalPrefix +
	// service (default "User:", Kafka's principal type for SASL and
	// mapped TLS users).
	PrincipalPrefix string
	// Namespace is put before every topic and consumer group name, as
	// kafka.Config.Namespace puts it on the wire (default none).
	Namespace string
	// Admin is the user name of operators' tools (spine topics, dlq and acl
	// apply), made a principal like a service's; it is granted ALL on the
	// namespace's topics and groups and on the cluster. Empty: no admin
	// grants (run `spine acl apply` as a broker super user).
	Admin string
}

// DefaultPrincipalPrefix is the principal type of SASL and TLS users.
const DefaultPrincipalPrefix = "User:"

// Name suffixes of the topics a consumer writes besides reading its topic.
const (
	DLQSuffix      = ".dlq"          // dead letters: <topic>.dlq (bus.DLQTopic)
	RetrySuffix    = ".retry-"       // retry levels: <topic>.retry-1, -2, …
	ResolvedSuffix = ".dlq.resolved" // resolution log (dlq.ResolvedTopic)
)

func (o Options) withDefaults() Options {
	if o.PrincipalPrefix == "" {
		o.PrincipalPrefix = DefaultPrincipalPrefix
	}
	return o
}

// Principal returns the principal of service under o.
func (o Options) Principal(service string) string {
	return o.withDefaults().PrincipalPrefix + service
}

// FromCatalog returns the grants the catalog implies (see the package
// documentation for the table), without duplicates, sorted by principal,
// resource type, name, pattern and operation: the same catalog and options
// always give the same list.
func FromCatalog(cat *catalog.Catalog, opts Options) []Grant {
	opts = opts.withDefaults()
	ns := opts.Namespace
	set := map[Grant]struct{}{}
	add := func(service string, rt kmsg.ACLResourceType, p kmsg.ACLResourcePatternType, name string, ops ...kmsg.ACLOperation) {
		for _, op := range ops {
			set[Grant{Principal: opts.PrincipalPrefix + service, ResourceType: rt, Pattern: p, Name: name, Operation: op, Host: AnyHost}] = struct{}{}
		}
	}
	const (
		topic, group, cluster = kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster
		literal, prefixed     = kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
		read, write, describe = kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe
	)
	for _, e := range cat.Events() {
		t := ns + e.Topic
		add(e.Source, topic, literal, t, write, describe)
		add(e.Source, cluster, literal, ClusterName, kmsg.ACLOperationIdempotentWrite)
		for _, c := range e.Consumers {
			add(c, topic, literal, t, read, describe)
			add(c, topic, literal, t+DLQSuffix, read, write, describe)
			add(c, topic, prefixed, t+RetrySuffix, read, write, describe)
			add(c, topic, literal, t+ResolvedSuffix, read, write, describe)
			add(c, group, prefixed, ns+c, read)
			add(c, cluster, literal, ClusterName, kmsg.ACLOperationIdempotentWrite)
		}
	}
	if opts.Admin != "" {
		// Kafka refuses an empty resource name, so "everything" is the
		// literal wildcard, and a namespace is a prefix.
		name, p := "*", literal
		if ns != "" {
			name, p = ns, prefixed
		}
		add(opts.Admin, topic, p, name, kmsg.ACLOperationAll)
		add(opts.Admin, group, p, name, kmsg.ACLOperationAll)
		add(opts.Admin, cluster, literal, ClusterName, kmsg.ACLOperationAll)
	}
	out := make([]Grant, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	Sort(out)
	return out
}
