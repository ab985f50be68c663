package match

import "strings"

// tagSlots is how many distinct tag keys Match resolves in one pass over a
// resource's tags. Ranging over a map costs about 10 ns an entry, so reading
// each tag leaf's key by its own pass would dominate Match; filters with
// more keys fall back to a pass per leaf.
const tagSlots = 8

type tagValue struct {
	key, val string
	ok       bool
}

// tagCache holds the tag values one Match has resolved. It lives on Match's
// stack; it is filled on the first tag leaf evaluated, so filters that
// decide before reading a tag never range over the tags.
type tagCache struct {
	keys   []tagKey
	filled bool
	v      [tagSlots]tagValue
}

// tagKey is a tag key a filter reads, with the byte lengths a key equal to
// it ignoring case can have, so that most of a resource's keys are passed
// over without comparing.
type tagKey struct {
	key      string
	min, max int
}

func (k *tagKey) equal(s string) bool {
	return len(s) >= k.min && len(s) <= k.max && strings.EqualFold(s, k.key)
}

// better reports whether stored key s wins over the one found so far: of
// keys equal ignoring case, the first in byte order (docs §4.2).
func better(s string, found *tagValue) bool {
	return !found.ok || s < found.key
}

func (c *tagCache) fill(tags map[string]string) {
	c.filled = true
	for k, v := range tags {
		for i := range c.keys {
			if c.keys[i].equal(k) && better(k, &c.v[i]) {
				c.v[i] = tagValue{k, v, true}
			}
		}
	}
}

// lookupTag finds one key in a pass of its own.
func lookupTag(tags map[string]string, key *tagKey) tagValue {
	var found tagValue
	for k, v := range tags {
		if key.equal(k) && better(k, &found) {
			found = tagValue{k, v, true}
		}
	}
	return found
}

func (n *node) match(r *Resource, c *tagCache) bool {
	switch n.kind {
	case kindAllOf:
		for _, k := range n.order {
			if !k.match(r, c) {
				return false
			}
		}
		return true
	case kindAnyOf:
		for _, k := range n.order {
			if k.match(r, c) {
				return true
			}
		}
		return false
	case kindNot:
		return !n.kids[0].match(r, c)
	}
	v := n.read(r, c)
	return n.test(v.val, v.ok)
}

// read returns the leaf's field of r; key is set for tags only.
func (n *node) read(r *Resource, c *tagCache) tagValue {
	switch n.field {
	case fieldName:
		return tagValue{val: r.Name, ok: true}
	case fieldType:
		return tagValue{val: r.Type, ok: true}
	case fieldID:
		return tagValue{val: r.ID, ok: true}
	case fieldSubscriptionID:
		return tagValue{val: r.SubscriptionID, ok: true}
	case fieldResourceGroup:
		return tagValue{val: r.ResourceGroup, ok: r.ResourceGroup != ""}
	case fieldLocation:
		return tagValue{val: r.Location, ok: strings.Trim(r.Location, " ") != ""}
	case fieldTag:
		if n.slot < 0 {
			return lookupTag(r.Tags, &n.tk)
		}
		if !c.filled {
			c.fill(r.Tags)
		}
		return c.v[n.slot]
	}
	return tagValue{}
}

// test applies the leaf's operator to a field's value; ok is whether the
// field exists (docs §12).
func (n *node) test(v string, ok bool) bool {
	if n.op == opExists {
		return ok == n.exists
	}
	if !ok {
		return n.op.negated()
	}
	if n.field == fieldLocation {
		v = normLocation(v)
	}
	var hit bool
	switch n.op.positive() {
	case opEquals:
		hit = strings.EqualFold(v, n.cmp)
	case opIn:
		for _, c := range n.cmps {
			if strings.EqualFold(v, c) {
				hit = true
				break
			}
		}
	case opLike:
		hit = like(n.glob, n.star, v)
	case opRegex:
		hit = n.re.MatchString(v)
	}
	return hit != n.op.negated()
}

// normLocation removes spaces and lower-cases (docs §13). It returns v
// itself, without allocating, when v is already normal.
func normLocation(v string) string {
	return strings.ToLower(strings.ReplaceAll(v, " ", ""))
}
