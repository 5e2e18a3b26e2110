package compat

import (
	"strings"
	"testing"
)

// benchV1 is shaped like a catalog event: ten properties, formats, patterns,
// an enum beside its type, a nullable field, a nested object and an array.
const benchV1 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://schemas.inopsio.com/events/invoice.approved/v1.0.0.json",
  "title": "InvoiceApproved",
  "type": "object",
  "required": ["invoice_id", "tenant_id", "amount", "currency", "status", "approved_at"],
  "properties": {
    "invoice_id": {"type": "string", "pattern": "^INV-[0-9]{4}-[0-9]{3,}$", "maxLength": 32},
    "tenant_id": {"type": "string", "format": "uuid"},
    "approver_id": {"type": "string", "format": "uuid"},
    "amount": {"type": "number", "minimum": 0, "multipleOf": 0.01},
    "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
    "status": {"type": "string", "enum": ["APPROVED"]},
    "comment": {"type": ["string", "null"], "maxLength": 500},
    "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
    "approver": {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}}, "required": ["name"]},
    "approved_at": {"type": "string", "format": "date-time"}
  },
  "$defs": {
    "line": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}, "required": ["sku", "qty"]}
  }
}`

func BenchmarkCheck(b *testing.B) {
	v2 := strings.Replace(benchV1, `"maxLength": 500`, `"maxLength": 1000`, 1)
	candidate := strings.Replace(v2, `"enum": ["EUR", "USD", "GBP"]`, `"enum": ["EUR", "USD", "GBP", "CHF"]`, 1)
	history := docs(benchV1, v2)
	for b.Loop() {
		res, err := Check(FullTransitive, Strict, history, []byte(candidate))
		if err != nil {
			b.Fatal(err)
		}
		if res.Compatible {
			b.Fatal("extending an enum must fail the forward check")
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	v2 := strings.Replace(benchV1, `"maxLength": 500`, `"maxLength": 1000`, 1)
	old, updated := []byte(benchV1), []byte(v2)
	for b.Loop() {
		if _, err := Diff(old, updated); err != nil {
			b.Fatal(err)
		}
	}
}
