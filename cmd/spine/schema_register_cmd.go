package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema/registry"
)

func newSchemaRegisterCmd() *cobra.Command {
	var url, user, levelFlag string
	cmd := &cobra.Command{
		Use:   "register --registry URL [--compatibility LEVEL]",
		Short: "Register every catalog schema version in a Confluent-compatible registry",
		Long: "Register every version of every catalog schema, oldest first, under its\n" +
			"TopicNameStrategy subject (<topic>-value). With --compatibility, each subject's\n" +
			"level is set first so the registry checks the versions as they arrive.\n" +
			"Basic auth: --user NAME and the password in SPINE_REGISTRY_PASSWORD.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				return usageErrorf("--registry URL is required")
			}
			var opts []registry.ConfluentOption
			if user != "" {
				opts = append(opts, registry.WithBasicAuth(user, os.Getenv("SPINE_REGISTRY_PASSWORD")))
			}
			reg, err := registry.NewConfluent(url, opts...)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if levelFlag != "" {
				level, err := registry.ParseCompatibilityLevel(levelFlag)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				if err := registry.SetCatalogCompatibility(ctx, reg, cat, level); err != nil {
					return err
				}
			}
			regs, err := registry.RegisterCatalog(ctx, reg, cat)
			for _, r := range regs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\tversion %s\tid %d\n", r.Subject, r.Event, r.Version, r.ID)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&url, "registry", os.Getenv("SPINE_REGISTRY_URL"), "registry base URL (default $SPINE_REGISTRY_URL)")
	cmd.Flags().StringVar(&user, "user", "", "basic-auth user name")
	cmd.Flags().StringVar(&levelFlag, "compatibility", "", "set each subject's level first, e.g. BACKWARD_TRANSITIVE")
	return cmd
}
