// Package registry is Spine's view of a schema registry with Confluent
// semantics: subjects named by the TopicNameStrategy (Subject), JSON Schema
// documents, integer schema ids carried in the Confluent wire format, and
// per-subject compatibility levels.
//
// Two implementations satisfy Registry:
//
//   - Local serves the embedded catalog and nothing else. Its ids are derived
//     from the subject and the catalog version (StableID), so every process
//     built from the same catalog agrees on them without talking to anyone:
//     this is what `spine dev` and the tests use.
//   - Confluent speaks the Confluent Schema Registry REST API (Confluent
//     Platform, Redpanda, Apicurio's /apis/ccompat/v7, Karapace) through
//     franz-go's sr client. RegisterCatalog and SetCatalogCompatibility are
//     what `spine schema register --registry URL` runs against it.
//
// Schemas are compared by their canonical JSON (CanonicalJSON), never byte
// for byte, and Confluent sends the canonical form: registries differ in how
// they decide that two texts are the same schema (Confluent parses them,
// Apicurio hashes the raw text by default), and one text per schema makes
// re-registration idempotent on all of them.
//
// Errors wrap the sentinels ErrNotFound, ErrIncompatible, ErrInvalidSchema,
// ErrReadOnly and ErrInvalidLevel (match with errors.Is); a failure reported
// by a registry server is an *APIError carrying its HTTP status and
// Confluent error code (match with errors.As).
package registry
