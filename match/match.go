// Package match is posture's resource filter language: the conditions an
// exemption's properties.resourceFilter uses to pick resources by name,
// type, location, resource group, subscription, id and tags, combined with
// allOf, anyOf and not.
//
// The semantics are specified in docs/resource-filters.md and pinned by the
// cases in testdata/cases. They decide which resources existing exemptions
// cover, so neither changes without the other.
package match

// Resource is what a filter reads of a resource.
type Resource struct {
	ID, Name, Type, Location, ResourceGroup, SubscriptionID string
	Tags                                                    map[string]string
}

// Filter is a parsed, valid resource filter. It is immutable and safe for
// concurrent use. The zero Filter and a nil *Filter match nothing.
type Filter struct {
	root   *node
	target string   // the JSON path given to Parse, for Lint
	tags   []tagKey // distinct tag keys read, in slot order (see tagCache)
}

// Needs says which parts of a resource a filter reads, so that callers
// load tags or locations only for filters that use them.
type Needs struct {
	Tags, Location bool
}

// Match reports whether the filter selects r. It does not allocate (except
// for a location that is not already lower-case without spaces, which ARM
// never returns) and compiles nothing: Match runs once per resource and
// exemption.
func (f *Filter) Match(r *Resource) bool {
	if f == nil || f.root == nil {
		return false
	}
	if r == nil {
		r = &Resource{}
	}
	c := tagCache{keys: f.tags}
	return f.root.match(r, &c)
}

// Needs reports what the filter reads.
func (f *Filter) Needs() Needs {
	var n Needs
	if f == nil {
		return n
	}
	f.root.walk(func(x *node) {
		switch x.field {
		case fieldTag:
			n.Tags = true
		case fieldLocation:
			n.Location = true
		}
	})
	return n
}

// walk calls fn for n and every condition below it, in document order.
func (n *node) walk(fn func(*node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, k := range n.kids {
		k.walk(fn)
	}
}
