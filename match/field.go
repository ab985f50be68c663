package match

import (
	"strings"
)

const fieldList = "name, type, location, resourceGroup, subscriptionId, id, or a tag as tags['key']"

// field reads a leaf's field (docs §3, §4.1) into n.
func (ps *parser) field(n *node, v *jvalue, t string) bool {
	if v.kind != jstring {
		ps.add(t, "The field must be a string: one of %s; this is %s.", fieldList, describe(v))
		return false
	}
	s := v.str
	if !ps.length(s, t) {
		return false
	}
	for f := fieldName; f < fieldTag; f++ {
		if strings.EqualFold(s, fieldNames[f]) {
			n.field = f
			return true
		}
	}
	rest, ok := cutPrefixFold(s, "tags")
	if !ok {
		ps.add(t, "The field '%s' is not known; use %s.", clip(s), fieldList)
		return false
	}
	key, msg := tagKeyOf(rest)
	if msg != "" {
		ps.add(t, "The field '%s' is not a valid tag field: %s.", clip(s), msg)
		return false
	}
	n.field, n.tag = fieldTag, key
	return true
}

// tagKeyOf reads the key from what follows "tags" in a tag field, or says
// what is wrong with it.
func tagKeyOf(rest string) (key, problem string) {
	const spellings = "write tags['key'], tags[\"key\"] or tags.key"
	switch {
	case len(rest) >= 4 && strings.HasPrefix(rest, "['") && strings.HasSuffix(rest, "']"):
		key = rest[2 : len(rest)-2]
	case len(rest) >= 4 && strings.HasPrefix(rest, `["`) && strings.HasSuffix(rest, `"]`):
		key = rest[2 : len(rest)-2]
	case strings.HasPrefix(rest, "."):
		key = rest[1:]
		if i := strings.IndexAny(key, ". []'\""); i >= 0 {
			return "", "a key after 'tags.' may not contain '" + key[i:i+1] + "'; write tags['" + key + "']"
		}
	default:
		return "", spellings
	}
	if key == "" {
		return "", "the tag key is empty"
	}
	return key, ""
}
