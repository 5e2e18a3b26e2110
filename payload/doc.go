// Package payload is the root of the typed event payloads: one package per
// catalog category (payload/crm, payload/erp, …), generated from the current
// JSON Schema of every event by internal/typegen, so callers write
// crm.LeadCreated instead of building maps that the schema registry might
// reject at publish time.
//
// The generated files must match the catalog; a test fails when they drift.
// After changing catalog/catalog.yaml or a schema, run:
//
//	go generate ./payload
package payload

//go:generate go run github.com/inopsio/spine/internal/typegen/cmd/typegen -out .
