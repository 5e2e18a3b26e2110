package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema"
	"github.com/inopsio/spine/schema/compat"
)

func newSchemaCompatCmd() *cobra.Command {
	var levelFlag, policyFlag string
	cmd := &cobra.Command{
		Use:   "compat [--level LEVEL] [--policy STRICT|LENIENT] OLD.json NEW.json",
		Short: "Check whether NEW is compatible with OLD (Confluent semantics)",
		Long: "Check whether the schema NEW is compatible with OLD, with Confluent Schema\n" +
			"Registry's levels and JSON Schema difference types.\n\n" +
			"Exit 0 compatible; 1 incompatible, with one line per difference:\n" +
			"<DIFFERENCE_TYPE> <json-pointer>; 2 on usage errors.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			level, err := compat.ParseLevel(levelFlag)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			policy, err := compat.ParsePolicy(policyFlag)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			old, err := os.ReadFile(args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("read OLD: %w", err)}
			}
			candidate, err := os.ReadFile(args[1])
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("read NEW: %w", err)}
			}
			res, err := compat.Check(level, policy, [][]byte{old}, candidate)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			for _, l := range res.Lines() {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			if !res.Compatible {
				return failed(fmt.Errorf("incompatible"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&levelFlag, "level", string(compat.Backward), "compatibility level: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE")
	cmd.Flags().StringVar(&policyFlag, "policy", string(compat.Lenient), "STRICT (Confluent's default) or LENIENT (optional fields may be added to open models)")
	return cmd
}

func newSchemaCheckCmd() *cobra.Command {
	var policyFlag string
	cmd := &cobra.Command{
		Use:   "check [--policy STRICT|LENIENT]",
		Short: "Apply the compatibility gate to the whole catalog",
		Long: "Every schema version must be BACKWARD_TRANSITIVE compatible with all earlier\n" +
			"versions of its event; FORWARD problems are printed as warnings.\n\n" +
			"Exit 0 when the gate passes; 1 with the differences when it does not.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			policy, err := compat.ParsePolicy(policyFlag)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			r, err := schema.CheckCatalog(cat, policy)
			if err != nil {
				return err
			}
			for _, w := range r.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: not forward compatible: %s\n", w)
			}
			for _, v := range r.Violations {
				fmt.Fprintln(cmd.OutOrStdout(), v)
			}
			if len(r.Violations) > 0 {
				return failed(fmt.Errorf("%d compatibility violations", len(r.Violations)))
			}
			versions := 0
			for _, e := range cat.Events() {
				versions += len(e.Versions)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "schema gate: %d events, %d versions, %s under %s: ok\n",
				len(cat.Events()), versions, schema.GateLevel, policy)
			return nil
		},
	}
	cmd.Flags().StringVar(&policyFlag, "policy", string(compat.Lenient), "STRICT or LENIENT")
	return cmd
}
