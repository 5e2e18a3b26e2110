package compat

import "regexp"

// objectSpec reads the keywords of the object type (everit's ObjectSchema).
func (l *loader) objectSpec(m map[string]any, ptr string) (*objectSpec, error) {
	sp := &objectSpec{required: map[string]bool{}, depRequired: map[string]map[string]bool{}, depSchemas: map[string]*schema{}}
	var err error
	if sp.props, err = l.schemaMap(m, "properties", ptr); err != nil {
		return nil, err
	}
	sp.order = sortedKeys(sp.props)
	if v, ok := m["required"]; ok {
		names, ok := stringList(v)
		if !ok {
			return nil, l.fail(child(ptr, "required"), ErrNotSchema, "\"required\" must be an array of strings")
		}
		for _, n := range names {
			sp.required[n] = true
		}
	}
	if sp.addlPermits, sp.addl, err = l.boolOrSchema(m, "additionalProperties", ptr); err != nil {
		return nil, err
	}
	patterns, err := l.schemaMap(m, "patternProperties", ptr)
	if err != nil {
		return nil, err
	}
	for _, p := range sortedKeys(patterns) {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, l.fail(child(child(ptr, "patternProperties"), p), ErrUnsupported, "pattern %q is not a regular expression Go can evaluate: %v", p, err)
		}
		sp.patterns = append(sp.patterns, patternProp{re: re, schema: patterns[p]})
	}
	if sp.uneval, err = l.optionalNode(m, "unevaluatedProperties", ptr); err != nil {
		return nil, err
	}
	if err := l.dependencies(m, ptr, sp); err != nil {
		return nil, err
	}
	if sp.minProps, err = l.count(m, "minProperties", ptr); err != nil {
		return nil, err
	}
	if sp.maxProps, err = l.count(m, "maxProperties", ptr); err != nil {
		return nil, err
	}
	return sp, nil
}

// dependencies reads dependentRequired and dependentSchemas, and the draft-07
// "dependencies" they were split from.
func (l *loader) dependencies(m map[string]any, ptr string, sp *objectSpec) error {
	addRequired := func(at, key string, v any) error {
		names, ok := stringList(v)
		if !ok {
			return l.fail(child(at, key), ErrNotSchema, "a property dependency must be an array of strings")
		}
		set := map[string]bool{}
		for _, n := range names {
			set[n] = true
		}
		sp.depRequired[key] = set
		return nil
	}
	for _, kw := range []string{"dependentRequired", "dependencies"} {
		v, ok := m[kw]
		if !ok {
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return l.fail(child(ptr, kw), ErrNotSchema, "%q must be an object, not %s", kw, jsonKind(v))
		}
		for _, key := range sortedKeys(obj) {
			if _, isList := obj[key].([]any); kw == "dependencies" && !isList {
				s, err := l.node(obj[key], child(child(ptr, kw), key))
				if err != nil {
					return err
				}
				sp.depSchemas[key] = s
				continue
			}
			if err := addRequired(child(ptr, kw), key, obj[key]); err != nil {
				return err
			}
		}
	}
	deps, err := l.schemaMap(m, "dependentSchemas", ptr)
	if err != nil {
		return err
	}
	for k, s := range deps {
		sp.depSchemas[k] = s
	}
	return nil
}
