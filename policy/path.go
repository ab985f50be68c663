package policy

import (
	"fmt"
	"strings"
)

// docPath is a compiled document path such as
// "properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status".
// Keys match case-insensitively (ARM property names are case-insensitive;
// the alias catalog itself spells "properties.virtualMachineProfile.storageProfile.osdisk"
// for documents that say "osDisk").
type docPath struct {
	raw   string
	steps []pathStep
	stars int // number of [*] steps: 0 means the path selects one value
	// lenient is set for heuristically derived paths: below a [*] a missing
	// key is also looked up under the member's "properties" object (the
	// shape of ARM sub-resources).
	lenient bool
}

type pathStep struct {
	key  string // property name; "" for a [*] step
	star bool
}

// parseDocPath compiles "a.b[*].c". Keys may also be written ['k'] to allow
// dots inside a key.
func parseDocPath(s string) (*docPath, error) {
	p := &docPath{raw: s}
	i := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "[*]"):
			p.steps = append(p.steps, pathStep{star: true})
			p.stars++
			i += 3
		case strings.HasPrefix(s[i:], "['"):
			end := strings.Index(s[i+2:], "']")
			if end < 0 {
				return nil, fmt.Errorf("unterminated ['...'] in path %q", s)
			}
			p.steps = append(p.steps, pathStep{key: s[i+2 : i+2+end]})
			i += end + 4
		case s[i] == '.':
			i++
		default:
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q in path %q", s[i], s)
			}
			p.steps = append(p.steps, pathStep{key: s[i:j]})
			i = j
		}
	}
	if len(p.steps) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return p, nil
}

func mustParseDocPath(s string) *docPath {
	p, err := parseDocPath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// hasPrefix reports whether the first n steps of p equal q's steps.
func (p *docPath) hasStepPrefix(q *docPath) bool {
	if len(q.steps) > len(p.steps) {
		return false
	}
	for i, s := range q.steps {
		t := p.steps[i]
		if s.star != t.star || (!s.star && !strings.EqualFold(s.key, t.key)) {
			return false
		}
	}
	return true
}

// lookupKey returns the value of key in v when v is an object.
func lookupKey(v any, key string, lenient bool) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if e, ok := getKey(m, key); ok {
		return e, true
	}
	if lenient {
		if props, ok := getKey(m, "properties"); ok {
			if pm, ok := props.(map[string]any); ok {
				return getKey(pm, key)
			}
		}
	}
	return nil, false
}

// selectOne walks a path without [*] steps. found is false when a key is
// missing or a value on the way is not an object.
func (p *docPath) selectOne(root any, from int) (any, bool) {
	v := root
	for _, s := range p.steps[from:] {
		var ok bool
		if v, ok = lookupKey(v, s.key, false); !ok {
			return nil, false
		}
	}
	return v, true
}

// selectAll appends every value the path selects from root, starting at step
// from. Members that lack a key are skipped, so a missing array or property
// yields an empty collection (the documented "empty collection of values").
func (p *docPath) selectAll(root any, from int, out []any) []any {
	return p.walk(root, from, false, out)
}

func (p *docPath) walk(v any, i int, belowStar bool, out []any) []any {
	for ; i < len(p.steps); i++ {
		s := p.steps[i]
		if s.star {
			arr, ok := v.([]any)
			if !ok {
				return out
			}
			for _, e := range arr {
				out = p.walk(e, i+1, true, out)
			}
			return out
		}
		var ok bool
		if v, ok = lookupKey(v, s.key, p.lenient && belowStar); !ok {
			return out
		}
	}
	return append(out, v)
}

// String returns the path as written.
func (p *docPath) String() string { return p.raw }
