package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := group("spine", "Spine: the Inopsio event backbone")
	root.Long = "Spine publishes and consumes Inopsio events on Kafka and Redis Streams,\n" +
		"checked against one shared contract: the event catalog."
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(
		newCatalogCmd(),
		newSchemaCmd(),
		newDevCmd(),
		newPublishCmd(),
		newTailCmd(),
		newConsumeCmd(),
		newTopicsCmd(),
		newDlqCmd(),
		newAclCmd(),
		newAuditCmd(),
		newKeysCmd(),
	)
	return root
}

// exactArgs is cobra.ExactArgs with the usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &exitError{code: exitUsage, err: errors.New(cmd.CommandPath() + ": " + err.Error() + "\nusage: " + cmd.UseLine())}
		}
		return nil
	}
}

// group returns a command that only holds subcommands. Run without one, or
// with an unknown one, it is a usage error (exit 2), not help with exit 0.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q\nrun '%s --help' for the commands", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return usageErrorf("%q needs a command\nrun '%s --help' for the commands", cmd.CommandPath(), cmd.CommandPath())
		},
	}
	c.AddCommand(subs...)
	return c
}
