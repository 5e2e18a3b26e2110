// Package catalog is the single source of truth for every Inopsio event: its
// topic, producing and consuming services, schema versions, partition key,
// PII fields, retry and ordering policy and WebSocket bridge mapping.
//
// The catalog is catalog.yaml plus one JSON Schema (draft 2020-12) per event
// version under schemas/<event>/v<semver>.json, embedded in the binary. PII
// fields are not listed in catalog.yaml: they are read from the schemas'
// "confluent:tags": ["PII"] annotations, so the two cannot disagree.
package catalog
