package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/schema"
)

func newSchemaCmd() *cobra.Command {
	return group("schema", "Validate payloads and check schema compatibility",
		newSchemaValidateCmd(),
		newSchemaCompatCmd(),
		newSchemaCheckCmd(),
		newSchemaRegisterCmd(),
	)
}

func newSchemaValidateCmd() *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "validate EVENT FILE",
		Short: "Validate a payload (FILE, or - for stdin) against an event's schema",
		Long: "Validate a payload against an event's schema.\n\n" +
			"Exit 0 when valid; 1 when invalid (malformed JSON included), with one line\n" +
			"per violation: <json-pointer>: <reason>; 2 on usage errors such as an\n" +
			"unknown event.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			v, err := schema.NewValidator(cat)
			if err != nil {
				return err
			}
			if _, err := cat.Event(args[0]); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			payload, err := readInput(cmd, args[1])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			err = v.Validate(args[0], version, payload)
			var ve *event.ValidationError
			var uv *schema.UnknownVersionError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ve):
				for _, viol := range ve.Violations {
					fmt.Fprintln(cmd.OutOrStdout(), viol.String())
				}
				return failed(err)
			case errors.As(err, &uv):
				return &exitError{code: exitUsage, err: err}
			default:
				return err
			}
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "schema version to validate against (default: the current one)")
	return cmd
}

// readInput reads a whole file, or stdin for "-".
func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), schema.DefaultMaxPayloadBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	return b, nil
}
