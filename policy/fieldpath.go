package policy

import (
	"sort"
	"strings"
)

// Reading the fields a rule reads, outside an evaluation: drift review
// fingerprints them when an exemption is approved and compares later.

// Path is a resolved field path, as FieldFact.Path reports it: a built-in
// field (name, fullName, type, location, kind, id, tags, tags['k']) or a
// document path such as "properties.networkAcls.ipRules[*].value".
type Path struct {
	raw  string
	kind fieldKind
	tag  string   // fieldTag
	doc  *docPath // fieldPath
}

// ParsePath compiles a resolved path. A derived field's Path lists
// alternatives ("a | b"); pass each one (FieldFact.ReadPaths splits them).
func ParsePath(s string) (*Path, error) {
	p := &Path{raw: s}
	switch strings.ToLower(s) {
	case "name":
		p.kind = fieldName
	case "fullname":
		p.kind = fieldFullName
	case "type":
		p.kind = fieldType
	case "location":
		p.kind = fieldLocation
	case "kind":
		p.kind = fieldKindProp
	case "id":
		p.kind = fieldID
	case "tags":
		p.kind = fieldTags
	default:
		// The inverse of fieldSpec.resolvedPath, which writes the tag name
		// verbatim between tags[' and '].
		if len(s) >= 8 && strings.EqualFold(s[:6], "tags['") && strings.HasSuffix(s, "']") {
			p.kind, p.tag = fieldTag, s[6:len(s)-2]
			return p, nil
		}
		d, err := parseDocPath(s)
		if err != nil {
			return nil, err
		}
		p.kind, p.doc = fieldPath, d
	}
	return p, nil
}

// String returns the path as written.
func (p *Path) String() string { return p.raw }

// Collection reports whether the path has [*] steps, so that it selects a
// collection of values.
func (p *Path) Collection() bool { return p.doc != nil && p.doc.stars > 0 }

// PathValue is what a path reads from a resource.
type PathValue struct {
	Value any  // the value, for a path without [*] steps
	Found bool // the value exists; for a collection, at least one value was selected
	// Values are a collection's values in document order (members that
	// lack a key are skipped, as the evaluator skips them).
	Values     []any
	Collection bool
}

// Read reads the path of r the way a rule's field reference does outside a
// count: location reads "global" when the resource has none, keys match
// case-insensitively, a missing array selects no values. r may be nil
// (nothing is found).
//
// Two readings differ from the evaluator's on purpose, so that the same
// document always reads the same: where an object has several keys that
// differ only in case and none matches exactly, Read picks the least
// (the evaluator's pick is arbitrary); and a path derived heuristically for
// an alias outside the catalog is read strictly (the evaluator also looks
// under a collection member's "properties" when a key is missing).
func (p *Path) Read(r *Resource) PathValue {
	if r == nil {
		return PathValue{Collection: p.Collection()}
	}
	one := func(v any, ok bool) PathValue { return PathValue{Value: v, Found: ok} }
	switch p.kind {
	case fieldName:
		return one(r.Name, r.Name != "")
	case fieldFullName:
		return one(r.FullName, r.FullName != "")
	case fieldType:
		return one(r.Type, r.Type != "")
	case fieldLocation:
		if r.Location == "" {
			return one("global", true)
		}
		return one(r.Location, true)
	case fieldKindProp:
		return one(stableKey(r.Document, "kind"))
	case fieldID:
		return one(r.ID, true)
	case fieldTags:
		return one(stableKey(r.Document, "tags"))
	case fieldTag:
		if r.Tags == nil {
			return PathValue{}
		}
		return one(stableKey(r.Tags, p.tag))
	}
	if p.doc.stars == 0 {
		return one(stableSelect(r.Document, p.doc.steps))
	}
	vals := stableSelectAll(r.Document, p.doc.steps, nil)
	return PathValue{Values: vals, Found: len(vals) > 0, Collection: true}
}

// stableKey is getKey with a deterministic choice among keys that differ
// only in case.
func stableKey(v any, key string) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if e, ok := m[key]; ok {
		return e, true
	}
	found, best := false, ""
	for k := range m {
		if strings.EqualFold(k, key) && (!found || k < best) {
			found, best = true, k
		}
	}
	if !found {
		return nil, false
	}
	return m[best], true
}

func stableSelect(v any, steps []pathStep) (any, bool) {
	for _, s := range steps {
		var ok bool
		if v, ok = stableKey(v, s.key); !ok {
			return nil, false
		}
	}
	return v, true
}

func stableSelectAll(v any, steps []pathStep, out []any) []any {
	for i, s := range steps {
		if s.star {
			arr, ok := v.([]any)
			if !ok {
				return out
			}
			for _, e := range arr {
				out = stableSelectAll(e, steps[i+1:], out)
			}
			return out
		}
		var ok bool
		if v, ok = stableKey(v, s.key); !ok {
			return out
		}
	}
	return append(out, v)
}

// ReadPaths returns every path the field can read, for Path.Read: Path
// itself; each alternative of a derived field's Path ("a | b": the
// evaluator reads the first one present); and the paths an alias takes on
// the resource types it maps differently (the Microsoft.Compute/image*
// aliases on scale sets), which Path does not show. Sorted.
func (f FieldFact) ReadPaths() []string {
	var out []string
	for _, alt := range strings.Split(f.Path, " | ") {
		if alt != "" {
			out = append(out, alt)
		}
	}
	if !f.Derived {
		for _, p := range aliasOverrides[strings.ToLower(f.Name)] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
