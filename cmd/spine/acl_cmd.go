package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inopsio/spine/acl"
	"github.com/inopsio/spine/catalog"
)

func newAclCmd() *cobra.Command {
	c := group("acl", "Derive Kafka ACLs from the catalog and apply them", newAclApplyCmd(), newAclListCmd())
	c.Long = "Each catalog service is a Kafka principal (User:<service>): it may write the\n" +
		"events it produces, read the events it consumes in consumer groups named after\n" +
		"it, and write and read those events' .dlq, .retry-N and .dlq.resolved topics.\n" +
		"`spine acl list` prints the grants; `spine acl apply` makes a broker hold them."
	return c
}

// aclGrantFlags are the flags that shape the grants.
type aclGrantFlags struct{ prefix, namespace, admin string }

func (f *aclGrantFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.prefix, "principal-prefix", envOr("SPINE_ACL_PRINCIPAL_PREFIX", acl.DefaultPrincipalPrefix),
		"put before a service name to make its principal ($SPINE_ACL_PRINCIPAL_PREFIX)")
	fl.StringVar(&f.namespace, "namespace", envOr("SPINE_NAMESPACE", ""),
		"prefix of every topic and group name, as the transport's Namespace ($SPINE_NAMESPACE)")
	fl.StringVar(&f.admin, "admin", envOr("SPINE_ACL_ADMIN", ""),
		"user of operators' tools, granted ALL on topics, groups and the cluster ($SPINE_ACL_ADMIN)")
}

func (f *aclGrantFlags) grants() ([]acl.Grant, acl.Options, error) {
	if !strings.Contains(f.prefix, ":") {
		return nil, acl.Options{}, usageErrorf("--principal-prefix %q: a principal is TYPE:NAME, e.g. User:", f.prefix)
	}
	cat, err := catalog.Default()
	if err != nil {
		return nil, acl.Options{}, err
	}
	opts := acl.Options{PrincipalPrefix: f.prefix, Namespace: f.namespace, Admin: f.admin}
	return acl.FromCatalog(cat, opts), opts, nil
}

func newAclListCmd() *cobra.Command {
	var (
		gf     aclGrantFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list [--principal-prefix P] [--namespace NS] [--admin USER] [--json]",
		Short: "Print the ACLs the catalog grants",
		Long: "Print every ALLOW ACL the catalog implies, one per line, sorted by principal and\n" +
			"resource. Nothing is contacted. With --json, a JSON array of\n" +
			"{principal, resource_type, pattern, name, operation, host}.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			grants, _, err := gf.grants()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), grants)
			}
			return grantTable(cmd.OutOrStdout(), "", grants)
		},
	}
	gf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// grantTable prints grants as a table, each row led by change when not "".
func grantTable(out io.Writer, change string, grants []acl.Grant) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	lead := func(s string) string {
		if change == "" {
			return ""
		}
		return s + "\t"
	}
	fmt.Fprintln(w, lead("CHANGE")+"PRINCIPAL\tOPERATION\tRESOURCE\tPATTERN\tNAME\tHOST")
	for _, g := range grants {
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\t%s\t%s\n", lead(change), g.Principal, g.Operation, g.ResourceType, g.Pattern, g.Name, g.Host)
	}
	return w.Flush()
}

func newAclApplyCmd() *cobra.Command {
	var (
		gf            aclGrantFlags
		kf            kafkaFlags
		prune, dryRun bool
		timeout       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "apply [--brokers LIST] [--principal-prefix P] [--namespace NS] [--admin USER] [--prune] [--dry-run]",
		Short: "Create the catalog's ACLs on the brokers; with --prune, delete those it no longer grants",
		Long: "Describe the ALLOW ACLs of the catalog's principals, create the missing grants\n" +
			"and, with --prune, delete those principals' ALLOW ACLs the catalog no longer\n" +
			"grants (only on topics and groups inside --namespace, and on the cluster;\n" +
			"DENY ACLs and other principals are never touched). Prints each added and\n" +
			"removed ACL and the counts. Idempotent. Authenticate as a principal that may\n" +
			"alter ACLs (a super user, or the --admin user once granted): --sasl-mechanism,\n" +
			"--sasl-user, and the password in $" + saslPasswordEnv + ".\n" +
			"The broker needs an authorizer; without one it answers SECURITY_DISABLED.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			grants, opts, err := gf.grants()
			if err != nil {
				return err
			}
			cfg, err := kf.config(cmd.Context(), "spine-acl", slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			connOpts, err := cfg.ClientOpts()
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			cl, err := kgo.NewClient(connOpts...)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res, err := acl.Apply(ctx, kadm.NewClient(cl), grants, acl.ApplyOptions{Prune: prune, DryRun: dryRun, Namespace: opts.Namespace})
			var ae *acl.ApplyError
			if err != nil && !errors.As(err, &ae) {
				return err // nothing was changed
			}
			out := cmd.OutOrStdout()
			add, remove, summary := "added", "removed", "%d added, %d unchanged, %d removed\n"
			if dryRun {
				add, remove, summary = "would add", "would remove", "dry run: %d to add, %d unchanged, %d to remove\n"
			}
			if len(res.Added) > 0 {
				if werr := grantTable(out, add, res.Added); werr != nil {
					return werr
				}
			}
			if len(res.Removed) > 0 {
				if werr := grantTable(out, remove, res.Removed); werr != nil {
					return werr
				}
			}
			fmt.Fprintf(out, summary, len(res.Added), len(res.Unchanged), len(res.Removed))
			return err
		},
	}
	kf.add(cmd)
	gf.add(cmd)
	cmd.Flags().BoolVar(&prune, "prune", false, "delete the ALLOW ACLs of catalog principals that the catalog no longer grants")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change; change nothing")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}
