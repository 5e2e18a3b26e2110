package compat

// Policy decides which difference types a compatibility check tolerates.
// Its values are Confluent's names for the JSON Schema compatibility policy.
type Policy string

const (
	// Strict is Confluent's default (SchemaDiff.COMPATIBLE_CHANGES_STRICT):
	// it accepts only changes that cannot make data the reader meets
	// invalid. In particular a property added to an open content model is
	// incompatible, because the writer may already have sent that name with
	// another type.
	Strict Policy = "STRICT"
	// Lenient (SchemaDiff.COMPATIBLE_CHANGES_LENIENT) additionally accepts
	// the content-model changes that Avro and Protobuf users expect to be
	// free: optional properties added to or removed from open objects,
	// additionalProperties narrowed or removed, and properties not covered by
	// a partially open model. A property added as required without a
	// default stays incompatible.
	Lenient Policy = "LENIENT"
)

// strictCompatible is SchemaDiff.COMPATIBLE_CHANGES_STRICT: Confluent's
// COMPATIBLE_CHANGES plus the UNEVALUATED_*_ADDED/EXTENDED types of the
// release that added unevaluatedProperties/unevaluatedItems.
var strictCompatible = typeSet(
	IDChanged, DescriptionChanged, TitleChanged, DefaultChanged, SchemaRemoved, TypeExtended,

	MaxLengthIncreased, MaxLengthRemoved, MinLengthDecreased, MinLengthRemoved, PatternRemoved,

	MaximumIncreased, MaximumRemoved, MinimumDecreased, MinimumRemoved,
	ExclusiveMaximumIncreased, ExclusiveMaximumRemoved, ExclusiveMinimumDecreased,
	ExclusiveMinimumRemoved, MultipleOfReduced, MultipleOfRemoved,

	RequiredAttributeWithDefaultAdded, RequiredAttributeRemoved, DependencyArrayNarrowed,
	DependencyArrayRemoved, DependencySchemaRemoved, MaxPropertiesIncreased, MaxPropertiesRemoved,
	MinPropertiesDecreased, MinPropertiesRemoved, AdditionalPropertiesAdded,
	AdditionalPropertiesExtended, UnevaluatedPropertiesAdded, UnevaluatedPropertiesExtended,
	PropertyWithEmptySchemaAddedToOpenContentModel,
	RequiredPropertyWithDefaultAddedToUnopenContentModel,
	OptionalPropertyAddedToUnopenContentModel, PropertyWithFalseRemovedFromClosedContentModel,
	PropertyRemovedFromOpenContentModel, PropertyAddedIsCoveredByPartiallyOpenContentModel,
	PropertyRemovedIsCoveredByPartiallyOpenContentModel,

	MaxItemsIncreased, MaxItemsRemoved, MinItemsDecreased, MinItemsRemoved, UniqueItemsRemoved,
	AdditionalItemsAdded, AdditionalItemsExtended, UnevaluatedItemsAdded, UnevaluatedItemsExtended,
	ItemWithEmptySchemaAddedToOpenContentModel, ItemAddedToClosedContentModel,
	ItemWithFalseRemovedFromClosedContentModel, ItemRemovedFromOpenContentModel,
	ItemAddedIsCoveredByPartiallyOpenContentModel, ItemRemovedIsCoveredByPartiallyOpenContentModel,

	EnumArrayExtended,

	CombinedTypeExtended, ProductTypeNarrowed, SumTypeExtended, NotTypeNarrowed,
)

// lenientExtra is what COMPATIBLE_CHANGES_LENIENT adds to the strict set.
// The first eight are Confluent's list verbatim; the last two are the 8.x
// successors of the deprecated PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL for the
// cases it covered that do not break old data: Confluent split that type by
// whether the added property is required precisely so that LENIENT can keep
// refusing REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL.
var lenientExtra = []Type{
	AdditionalPropertiesNarrowed, AdditionalPropertiesRemoved,
	UnevaluatedPropertiesNarrowed, UnevaluatedPropertiesRemoved,
	PropertyAddedToOpenContentModel, PropertyRemovedFromOpenContentModel,
	PropertyAddedNotCoveredByPartiallyOpenContentModel,
	PropertyRemovedNotCoveredByPartiallyOpenContentModel,

	OptionalPropertyAddedToOpenContentModel,
	RequiredPropertyWithDefaultAddedToOpenContentModel,
}

var lenientCompatible = func() map[Type]bool {
	m := typeSet(lenientExtra...)
	for t := range strictCompatible {
		m[t] = true
	}
	return m
}()

func typeSet(ts ...Type) map[Type]bool {
	m := make(map[Type]bool, len(ts))
	for _, t := range ts {
		m[t] = true
	}
	return m
}

// compatibleSet returns the set of tolerated types of p, or nil for a policy
// that is not Strict or Lenient.
func (p Policy) compatibleSet() map[Type]bool {
	switch p {
	case Strict:
		return strictCompatible
	case Lenient:
		return lenientCompatible
	}
	return nil
}

// IsCompatible reports whether a difference of type t keeps a schema
// compatible under policy p, in the direction it was computed (Diff's old
// schema is the one whose data the new schema must accept). Unknown types and
// unknown policies are incompatible: a gate must fail closed.
func (t Type) IsCompatible(p Policy) bool {
	return p.compatibleSet()[t]
}
