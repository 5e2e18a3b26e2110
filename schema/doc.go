// Package schema validates events against the catalog's JSON Schemas.
//
// Every schema version of every catalog event is compiled once, with format
// assertion on (uuid, email and date-time are checked, not just annotated).
// Payloads are decoded strictly — duplicate object keys and invalid UTF-8 are
// rejected — because two stacks that disagree on which duplicate wins would
// validate one payload and act on another.
//
// Subpackages: compat (the compatibility gate) and registry (schema registry
// clients).
package schema
