// Package compat decides whether a JSON Schema may follow earlier versions
// of itself, with the semantics of Confluent Schema Registry, so that the
// gate Spine runs in CI agrees with the registry that will receive the
// schema in production.
//
// Diff computes Confluent's differences from an old schema to a new one
// (read: "can the new schema accept every document the old one accepted?"),
// each named by Confluent's Difference.Type. A Policy says which types are
// tolerated: Strict is Confluent's default, Lenient its opt-in policy that
// lets optional properties come and go in open objects. Check applies a
// compatibility Level (BACKWARD, FORWARD, FULL, their _TRANSITIVE forms,
// NONE) to a history of versions and a candidate.
//
// # Sources
//
// The rules are a port of Confluent's Java diff engine, in the repository
// confluentinc/schema-registry, directory
// json-schema-provider/src/main/java/io/confluent/kafka/schemaregistry/json/diff/
// (read at the commits named):
//
//   - Difference.java (08e6ae23): the type names, including the 8.x split of
//     PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL into REQUIRED_/REQUIRED_WITH_DEFAULT_/
//     OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL;
//   - SchemaDiff.java (658073b7, and d95ee60e in the fork
//     lucliu1108/schema-registry for COMPATIBLE_CHANGES_STRICT/_LENIENT):
//     the compatible sets, $ref normalization, the union and intersection
//     special cases, TYPE_CHANGED;
//   - Context.java (26cde791): memoization per schema pair and recursive
//     cycles treated as compatible;
//   - ObjectSchemaDiff.java (0de3fd45, and 16984081 in the fork for the
//     unevaluatedProperties-aware content models): open, closed and
//     partially open content models, required, dependencies;
//   - ArraySchemaDiff.java (115509ba), CombinedSchemaDiff.java (10a588d0),
//     StringSchemaDiff.java, NumberSchemaDiff.java, EnumSchemaDiff.java,
//     ConstSchemaDiff.java, NotSchemaDiff.java, ReferenceSchemaDiff.java;
//   - src/test/resources/diff-schema-examples-2020-12.json (8c2c20b5):
//     Confluent's expected differences, which the golden cases under
//     testdata/diff agree with where they overlap.
//
// # Scope, and where we differ from Confluent
//
//   - Pointers are RFC 6901 ("/properties/a~1b", root ""), not "#/...", and
//     use draft 2020-12 keyword names where Confluent's path keeps everit's:
//     "prefixItems/<i>" for "items/<i>", "items" for "additionalItems",
//     "dependentRequired/<p>" and "dependentSchemas/<p>" for
//     "dependencies/<p>". Like Confluent, "required" changes point at
//     "/required/<property>". Members of a union that the document does not
//     spell as allOf/anyOf/oneOf add no "allOf/<i>" segment: a "type" list,
//     or several keyword groups on one schema ("type" beside "enum"), which
//     everit wraps in a synthetic allOf. As in Confluent, narrowing such an
//     enum is COMBINED_TYPE_SUBSCHEMAS_CHANGED at the schema; an enum alone
//     reports ENUM_ARRAY_NARROWED at "/enum".
//   - Numbers are exact rationals: multipleOf 0.3 -> 0.1 is REDUCED, and 10
//     equals 10.0 (Confluent compares integer parts or doubles).
//   - Two identical "not" schemas yield no NOT_TYPE_NARROWED.
//   - Under Lenient, OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL and
//     REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL are
//     compatible and REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL is not.
//     The lenient set we could read lists only their deprecated predecessor;
//     this is our reading of why 8.x split it, not a copy of 8.x's set.
//   - Only $ref into the same document is resolved ("#", "#/$defs/...", any
//     "#/..." pointer); others, and $anchor references, are ErrUnsupported.
//     Cross-document references live in the registry's references list,
//     which a single document does not carry. From draft 2019-09 on,
//     keywords beside "$ref" apply too and join it in the synthetic allOf;
//     a document whose "$schema" names draft-04 to -07 ignores them.
//   - MIN_/MAX_CONTAINS_* are in none of the compatible sets Confluent
//     publishes, so every such change is incompatible, as there.
//   - "format" is not compared (Confluent has no type for it), nor are
//     "contains", "propertyNames" and "if"/"then"/"else"; patternProperties
//     schemas only decide whether an added or removed property is covered.
//
// # Safety
//
// Every comparison of a pair of schema nodes is memoized, and a pair met
// again while it is still being compared is a recursive cycle, treated as
// compatible; $ref chains that never reach a schema are rejected when the
// document is loaded. Nesting is bounded (ErrTooDeep), so is the number of
// differences a reused $ref can multiply into (ErrTooComplex), numbers with
// huge exponents are refused, and no input makes the package panic
// (FuzzDiff).
package compat
