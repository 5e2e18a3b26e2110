// Package roundtrip only holds tests: every catalog example payload must
// decode strictly into its generated type and encode back unchanged.
//
// They live apart from payload's drift test on purpose: they import every
// generated package, so a missing one would stop them from compiling, and
// the drift test, which says how to fix that, must still run.
package roundtrip
