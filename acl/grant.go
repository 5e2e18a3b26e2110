package acl

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Grant is one ALLOW ACL: Principal may do Operation on the resources of
// ResourceType that Pattern and Name select, from Host. The enums are
// franz-go's, whose text form is Kafka's ("TOPIC", "PREFIXED",
// "IDEMPOTENT_WRITE").
type Grant struct {
	Principal    string                      `json:"principal"`
	ResourceType kmsg.ACLResourceType        `json:"resource_type"`
	Pattern      kmsg.ACLResourcePatternType `json:"pattern"` // LITERAL or PREFIXED
	Name         string                      `json:"name"`
	Operation    kmsg.ACLOperation           `json:"operation"`
	// Host is the client address the grant applies to; "*", every host,
	// for every grant FromCatalog derives. Apply reports ACLs it finds on
	// the broker with their own host.
	Host string `json:"host"`
}

// AnyHost is the host of a grant that applies from every client address.
const AnyHost = "*"

// ClusterName is the name of the cluster resource in Kafka ACLs.
const ClusterName = "kafka-cluster"

// String is the grant as one line: "User:crm-service WRITE TOPIC LITERAL
// lead.created", with " from <host>" when Host is not "*".
func (g Grant) String() string {
	s := fmt.Sprintf("%s %s %s %s %s", g.Principal, g.Operation, g.ResourceType, g.Pattern, g.Name)
	if g.Host != AnyHost {
		s += " from " + g.Host
	}
	return s
}

// compare orders grants by principal, resource type, name, pattern,
// operation and host: one principal's grants together, a resource's
// operations together.
func compare(a, b Grant) int {
	return cmp.Or(
		cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.ResourceType, b.ResourceType),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Pattern, b.Pattern),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Host, b.Host),
	)
}

// Sort sorts grants in place in the order FromCatalog returns them.
func Sort(grants []Grant) { slices.SortFunc(grants, compare) }
