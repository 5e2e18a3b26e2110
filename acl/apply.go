package acl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApplyOptions say how Apply changes the broker.
type ApplyOptions struct {
	// Prune deletes the ALLOW ACLs of the grants' principals that the
	// grants do not contain, within Namespace (see the package
	// documentation for what pruning never touches).
	Prune bool
	// DryRun describes the broker's ACLs and reports what Apply would add
	// and remove, changing nothing.
	DryRun bool
	// Namespace bounds pruning to topics and groups whose names start with
	// it: pass the Options.Namespace the grants were made with.
	Namespace string
}

// Result is what Apply found and did. Each list is sorted like FromCatalog's.
type Result struct {
	Added     []Grant // created (with DryRun: would be)
	Unchanged []Grant // already on the broker
	Removed   []Grant // deleted by Prune (with DryRun: would be)
}

// ErrInvalidGrant is wrapped by Apply's error for a grant no broker could
// hold (no principal type, an empty name, a pattern other than LITERAL or
// PREFIXED…); nothing is changed then.
var ErrInvalidGrant = errors.New("acl: invalid grant")

// Failure is one ACL the broker refused to create or delete.
type Failure struct {
	Grant Grant
	Err   error // a kerr error, such as kerr.ClusterAuthorizationFailed
}

// ApplyError reports the ACLs the broker refused; the others were applied
// and are in the Result. errors.Is matches each distinct broker error.
type ApplyError struct {
	Op     string // "create" or "delete"
	Failed []Failure
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "acl: %s: the broker refused %d ACLs", e.Op, len(e.Failed))
	for _, err := range e.Unwrap() {
		n, first := 0, Grant{}
		for _, f := range e.Failed {
			if f.Err == err {
				if n == 0 {
					first = f.Grant
				}
				n++
			}
		}
		fmt.Fprintf(&b, "; %d with %v (first: %s)", n, err, first)
	}
	return b.String()
}

// Unwrap returns the distinct errors of the failures, in order of first
// appearance.
func (e *ApplyError) Unwrap() []error {
	var out []error
	for _, f := range e.Failed {
		if !slices.Contains(out, f.Err) {
			out = append(out, f.Err)
		}
	}
	return out
}

// Apply makes the broker behind adm hold grants: it describes the ALLOW
// ACLs of the grants' principals, creates the grants that are missing and,
// with Prune, deletes those principals' ACLs that grants do not contain.
// adm must be authenticated as a principal allowed to describe and alter
// ACLs (ALTER and DESCRIBE on the cluster, or a super user).
//
// It creates before it deletes, so a grant that moves (another host, say) is
// never missing in between. An error naming an *ApplyError comes with the
// Result of what did succeed.
//
// Apache Kafka (KRaft) answers CreateACLs once the change is committed and
// applies it to its authorizer a moment later: an Apply right after another
// may still report, and harmlessly create again, ACLs the first created.
func Apply(ctx context.Context, adm *kadm.Client, grants []Grant, opts ApplyOptions) (Result, error) {
	if err := validate(grants); err != nil {
		return Result{}, err
	}
	if len(grants) == 0 {
		return Result{}, nil
	}
	have, err := describe(ctx, adm, principals(grants))
	if err != nil {
		return Result{}, err
	}
	want := make(map[Grant]bool, len(grants))
	var res Result
	for _, g := range grants {
		if want[g] {
			continue
		}
		want[g] = true
		if have[g] {
			res.Unchanged = append(res.Unchanged, g)
		} else {
			res.Added = append(res.Added, g)
		}
	}
	if opts.Prune {
		for g := range have {
			if !want[g] && prunable(g, opts.Namespace) {
				res.Removed = append(res.Removed, g)
			}
		}
	}
	Sort(res.Added)
	Sort(res.Unchanged)
	Sort(res.Removed)
	if opts.DryRun {
		return res, nil
	}
	var errs []error
	res.Added, err = create(ctx, adm, res.Added)
	errs = append(errs, err)
	res.Removed, err = remove(ctx, adm, res.Removed)
	errs = append(errs, err)
	return res, errors.Join(errs...)
}

func validate(grants []Grant) error {
	for _, g := range grants {
		var why string
		switch {
		case !strings.Contains(g.Principal, ":"):
			why = "the principal has no type (User:…)"
		case g.Name == "":
			why = "the resource name is empty"
		case g.Host == "":
			why = `the host is empty (every host is "*")`
		case g.Pattern != kmsg.ACLResourcePatternTypeLiteral && g.Pattern != kmsg.ACLResourcePatternTypePrefixed:
			why = "the pattern is neither LITERAL nor PREFIXED"
		case g.Operation <= kmsg.ACLOperationAny || g.Operation > kmsg.ACLOperationDescribeTokens:
			why = "the operation is not one an ACL can grant"
		case g.ResourceType == kmsg.ACLResourceTypeCluster && (g.Name != ClusterName || g.Pattern != kmsg.ACLResourcePatternTypeLiteral):
			why = "a cluster grant is LITERAL " + ClusterName
		case !slices.Contains(managedTypes, g.ResourceType):
			why = "only TOPIC, GROUP and CLUSTER grants are supported"
		default:
			continue
		}
		return fmt.Errorf("%w: %s: %s", ErrInvalidGrant, g, why)
	}
	return nil
}

// managedTypes are the resource types Apply creates and prunes.
var managedTypes = []kmsg.ACLResourceType{kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster}

// prunable says whether Prune may delete g: a TOPIC or GROUP ACL inside the
// namespace, or a CLUSTER ACL.
func prunable(g Grant, ns string) bool {
	switch g.ResourceType {
	case kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup:
		return strings.HasPrefix(g.Name, ns)
	case kmsg.ACLResourceTypeCluster:
		return true
	}
	return false
}

func principals(grants []Grant) []string {
	var out []string
	for _, g := range grants {
		if !slices.Contains(out, g.Principal) {
			out = append(out, g.Principal)
		}
	}
	slices.Sort(out)
	return out
}

// describe returns the ALLOW ACLs the broker holds for principals, from any
// host, on any resource.
func describe(ctx context.Context, adm *kadm.Client, principals []string) (map[Grant]bool, error) {
	b := kadm.NewACLs().AnyResource().Allow(principals...).AllowHosts().
		Operations().ResourcePatternType(kadm.ACLPatternAny)
	rs, err := adm.DescribeACLs(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("acl: describe the ACLs of %d principals: %w", len(principals), err)
	}
	have := map[Grant]bool{}
	for _, r := range rs {
		if r.Err != nil {
			p := "?"
			if r.Principal != nil {
				p = *r.Principal
			}
			hint := ""
			if errors.Is(r.Err, kerr.SecurityDisabled) {
				hint = " (the broker has no authorizer: set authorizer.class.name, see package acl)"
			}
			return nil, fmt.Errorf("acl: describe the ACLs of %s: %w%s", p, r.Err, hint)
		}
		for _, d := range r.Described {
			if d.Permission != kmsg.ACLPermissionTypeAllow {
				continue
			}
			have[Grant{Principal: d.Principal, ResourceType: d.Type, Pattern: d.Pattern, Name: d.Name,
				Operation: d.Operation, Host: d.Host}] = true
		}
	}
	return have, nil
}

// builders turns grants into kadm builders whose cross products (names ×
// operations, for one principal, host, resource type and pattern) are
// exactly the grants: one request per principal, host, type, pattern and
// set of operations, instead of one per grant.
func builders(grants []Grant) []*kadm.ACLBuilder {
	type resource struct {
		principal, host string
		rt              kmsg.ACLResourceType
		pattern         kmsg.ACLResourcePatternType
		name            string
	}
	var resources []resource
	ops := map[resource][]kmsg.ACLOperation{}
	for _, g := range grants {
		r := resource{g.Principal, g.Host, g.ResourceType, g.Pattern, g.Name}
		if _, ok := ops[r]; !ok {
			resources = append(resources, r)
		}
		if !slices.Contains(ops[r], g.Operation) {
			ops[r] = append(ops[r], g.Operation)
		}
	}
	type batch struct {
		principal, host string
		rt              kmsg.ACLResourceType
		pattern         kmsg.ACLResourcePatternType
		ops             string
	}
	var order []batch
	names := map[batch][]string{}
	batchOps := map[batch][]kmsg.ACLOperation{}
	for _, r := range resources {
		o := slices.Sorted(slices.Values(ops[r]))
		k := batch{r.principal, r.host, r.rt, r.pattern, fmt.Sprint(o)}
		if _, ok := names[k]; !ok {
			order = append(order, k)
			batchOps[k] = o
		}
		names[k] = append(names[k], r.name)
	}
	out := make([]*kadm.ACLBuilder, 0, len(order))
	for _, k := range order {
		b := kadm.NewACLs().Allow(k.principal).AllowHosts(k.host).ResourcePatternType(k.pattern).Operations(batchOps[k]...)
		switch k.rt {
		case kmsg.ACLResourceTypeTopic:
			b.Topics(names[k]...)
		case kmsg.ACLResourceTypeGroup:
			b.Groups(names[k]...)
		case kmsg.ACLResourceTypeCluster:
			b.Clusters() // its one name, kafka-cluster
		}
		out = append(out, b)
	}
	return out
}

// create creates grants and returns those the broker accepted.
func create(ctx context.Context, adm *kadm.Client, grants []Grant) ([]Grant, error) {
	var done []Grant
	failed := &ApplyError{Op: "create"}
	for _, b := range builders(grants) {
		rs, err := adm.CreateACLs(ctx, b)
		if err != nil {
			return done, fmt.Errorf("acl: create ACLs: %w", err)
		}
		for _, r := range rs {
			g := Grant{Principal: r.Principal, ResourceType: r.Type, Pattern: r.Pattern, Name: r.Name,
				Operation: r.Operation, Host: r.Host}
			if r.Err != nil {
				failed.Failed = append(failed.Failed, Failure{g, r.Err})
				continue
			}
			done = append(done, g)
		}
	}
	Sort(done)
	if len(failed.Failed) > 0 {
		return done, failed
	}
	return done, nil
}

// remove deletes exactly grants (every filter field is set) and returns
// those the broker deleted.
func remove(ctx context.Context, adm *kadm.Client, grants []Grant) ([]Grant, error) {
	var done []Grant
	failed := &ApplyError{Op: "delete"}
	for _, b := range builders(grants) {
		rs, err := adm.DeleteACLs(ctx, b)
		if err != nil {
			return done, fmt.Errorf("acl: delete ACLs: %w", err)
		}
		for _, r := range rs {
			if r.Err != nil {
				g := Grant{ResourceType: r.Type, Pattern: r.Pattern, Operation: r.Operation}
				g.Principal, g.Host, g.Name = deref(r.Principal), deref(r.Host), deref(r.Name)
				failed.Failed = append(failed.Failed, Failure{g, r.Err})
				continue
			}
			for _, d := range r.Deleted {
				g := Grant{Principal: d.Principal, ResourceType: d.Type, Pattern: d.Pattern, Name: d.Name,
					Operation: d.Operation, Host: d.Host}
				if d.Err != nil {
					failed.Failed = append(failed.Failed, Failure{g, d.Err})
					continue
				}
				done = append(done, g)
			}
		}
	}
	Sort(done)
	if len(failed.Failed) > 0 {
		return done, failed
	}
	return done, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
