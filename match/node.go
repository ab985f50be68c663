package match

import "regexp"

// kind is what a condition is.
type kind uint8

const (
	kindLeaf kind = iota
	kindAllOf
	kindAnyOf
	kindNot
)

// field is what a leaf reads.
type field uint8

const (
	fieldNone field = iota
	fieldName
	fieldType
	fieldLocation
	fieldResourceGroup
	fieldSubscriptionID
	fieldID
	fieldTag
)

// fieldNames are the canonical spellings (docs §3), indexed by field.
var fieldNames = [...]string{
	fieldName:           "name",
	fieldType:           "type",
	fieldLocation:       "location",
	fieldResourceGroup:  "resourceGroup",
	fieldSubscriptionID: "subscriptionId",
	fieldID:             "id",
	fieldTag:            "tags",
}

// op is a leaf's operator. Each negated operator is its positive one with
// the result inverted (docs §11), so evaluation deals only with five.
type op uint8

const (
	opNone op = iota
	opEquals
	opNotEquals
	opIn
	opNotIn
	opLike
	opNotLike
	opRegex
	opNotRegex
	opExists
)

var opNames = [...]string{
	opEquals:    "equals",
	opNotEquals: "notEquals",
	opIn:        "in",
	opNotIn:     "notIn",
	opLike:      "like",
	opNotLike:   "notLike",
	opRegex:     "regex",
	opNotRegex:  "notRegex",
	opExists:    "exists",
}

func (o op) negated() bool {
	return o == opNotEquals || o == opNotIn || o == opNotLike || o == opNotRegex
}

// positive returns the operator without its negation.
func (o op) positive() op {
	if o.negated() {
		return o - 1
	}
	return o
}

// node is one condition.
type node struct {
	kind kind
	kids []*node // allOf, anyOf: in document order; not: one
	// order is kids cheapest first: Match stops at the first decisive
	// child, and leaves are much cheaper than a regex (docs §1).
	order []*node
	path  string // JSON path, for Lint

	// Leaves.
	field  field
	tag    string // tag key as written
	tk     tagKey // tag key as looked up
	slot   int    // index into tagCache, -1 when the filter reads too many keys
	op     op
	value  string   // equals, like and regex value, as written
	values []string // in value, as written
	cmp    string   // value as compared (location normalised)
	cmps   []string // values as compared
	glob   []string // like: the literal runs between stars
	star   bool     // like: the pattern has a star
	re     *regexp.Regexp
	exists bool
}

// cost estimates a condition's evaluation time in rough units of 10 ns,
// to order siblings: a regex costs about 10 ns a character, and the first
// tag leaf ranges over the resource's tags, about 10 ns a tag.
func (n *node) cost() int {
	switch n.kind {
	case kindLeaf:
		c := 2
		switch n.op.positive() {
		case opExists, opEquals:
			c = 1
		case opRegex:
			c = 15
		}
		if n.field == fieldTag {
			c += 6
		}
		return c
	case kindNot:
		return n.kids[0].cost()
	}
	c := 0
	for _, k := range n.kids {
		c += k.cost()
	}
	return c
}
