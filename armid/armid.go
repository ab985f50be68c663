// Package armid parses and formats Azure Resource Manager ids and scopes: the
// tenant root "/", management groups, subscriptions, resource groups,
// resources, child resources and extension resources such as
// {resourceId}/providers/Microsoft.Authorization/policyExemptions/{name}.
//
// Ids compare case-insensitively (Key). Parsing follows the segment grammar
// of azcore/arm.ParseResourceID, which the tests cross-check, with two
// differences: resource groups may only hold provider resources, and names
// keep their spaces (ARM does not trim them; it rejects them where they are
// invalid).
package armid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind says what an ID addresses.
type Kind uint8

// Kinds of ids.
const (
	Tenant          Kind = iota // "/"
	ManagementGroup             // /providers/Microsoft.Management/managementGroups/{mg}
	Subscription                // /subscriptions/{sub}
	ResourceGroup               // /subscriptions/{sub}/resourceGroups/{rg}
	Resource                    // any resource: top-level, child or extension
)

func (k Kind) String() string {
	switch k {
	case Tenant:
		return "tenant"
	case ManagementGroup:
		return "managementGroup"
	case Subscription:
		return "subscription"
	case ResourceGroup:
		return "resourceGroup"
	}
	return "resource"
}

// Types of the container kinds, as ARM reports them.
const (
	TenantType          = "Microsoft.Resources/tenants"
	ManagementGroupType = "Microsoft.Management/managementGroups"
	SubscriptionType    = "Microsoft.Resources/subscriptions"
	ResourceGroupType   = "Microsoft.Resources/resourceGroups"
)

// MaxLen bounds the length of an id; longer input is rejected before any
// work is done on it.
const MaxLen = 4096

// ID is a parsed ARM id. The zero ID is the tenant root "/". IDs are
// immutable values; use Key to compare or index them.
type ID struct {
	text   string // canonical text: one slash between segments, keywords in ARM casing
	kind   Kind
	sub    string
	rg     string
	mg     string
	ns     string // provider namespace of the addressed resource
	typ    string // type path after the namespace, e.g. "virtualMachines/extensions"
	name   string
	parent int // text[:parent] is the parent id ("" = tenant)
	scope  int // text[:scope] is the scope the resource sits on
}

// Root is the tenant root scope "/".
var Root = ID{}

// SyntaxError describes an id that does not parse.
type SyntaxError struct {
	ID     string
	Reason string
}

func (e *SyntaxError) Error() string {
	id := e.ID
	if len(id) > 200 {
		id = id[:200] + "…"
	}
	return fmt.Sprintf("invalid resource id %q: %s", id, e.Reason)
}

// Parse parses an ARM id. Empty segments (double slashes) are ignored, as
// ARM and the Azure SDKs do.
func Parse(s string) (ID, error) {
	segs, err := split(s)
	if err != nil {
		return ID{}, err
	}
	id, rest, err := parseSegments(s, segs)
	if err != nil {
		return ID{}, err
	}
	if len(rest) != 0 {
		return ID{}, &SyntaxError{s, fmt.Sprintf("segment %q has no name", rest[len(rest)-1])}
	}
	return id, nil
}

// MustParse is Parse for ids known to be valid; it panics otherwise.
func MustParse(s string) ID {
	id, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return id
}

func split(s string) ([]string, error) {
	if len(s) > MaxLen {
		return nil, &SyntaxError{s, fmt.Sprintf("longer than %d characters", MaxLen)}
	}
	if !strings.HasPrefix(s, "/") {
		return nil, &SyntaxError{s, "must start with '/'"}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return nil, &SyntaxError{s, "contains a control character"}
		}
	}
	// Documents are JSON, which has no bytes that are not UTF-8: an id
	// with one would be written with U+FFFD in its place, another id.
	if !utf8.ValidString(s) {
		return nil, &SyntaxError{s, "is not valid UTF-8"}
	}
	parts := strings.Split(s, "/")
	segs := parts[:0]
	for _, p := range parts {
		if p != "" {
			segs = append(segs, p)
		}
	}
	return segs, nil
}

// parseSegments consumes as many (type, name) pairs as form a valid id and
// returns the unconsumed tail (0 to 3 segments), which ParsePath interprets
// as a collection or an action.
func parseSegments(s string, segs []string) (ID, []string, error) {
	var b builder
	i := 0
	for i < len(segs) {
		seg := segs[i]
		left := len(segs) - i
		switch {
		case strings.EqualFold(seg, "providers"):
			if left < 4 {
				return b.id, segs[i:], nil
			}
			if err := b.provider(s, segs[i+1], segs[i+2], segs[i+3]); err != nil {
				return ID{}, nil, err
			}
			i += 4
		default:
			if left < 2 {
				return b.id, segs[i:], nil
			}
			if err := b.child(s, seg, segs[i+1]); err != nil {
				return ID{}, nil, err
			}
			i += 2
		}
	}
	return b.id, nil, nil
}

// builder appends segments to an id, keeping the derived fields current.
type builder struct {
	id ID
	sb strings.Builder
}

func (b *builder) mark() int { return b.sb.Len() }

func (b *builder) set(kind Kind, ns, typ, name string, parent, scope int) {
	id := &b.id
	id.text = b.sb.String()
	id.kind, id.ns, id.typ, id.name, id.parent, id.scope = kind, ns, typ, name, parent, scope
}

func (b *builder) provider(s, ns, typ, name string) error {
	parent := b.mark()
	switch {
	case b.id.kind == Tenant && strings.EqualFold(ns, "Microsoft.Management") && strings.EqualFold(typ, "managementGroups"):
		b.sb.WriteString("/providers/Microsoft.Management/managementGroups/")
		b.sb.WriteString(name)
		b.id.mg = name
		b.set(ManagementGroup, "Microsoft.Management", "managementGroups", name, parent, parent)
		return nil
	}
	b.sb.WriteString("/providers/")
	b.sb.WriteString(ns)
	b.sb.WriteByte('/')
	b.sb.WriteString(typ)
	b.sb.WriteByte('/')
	b.sb.WriteString(name)
	b.set(Resource, ns, typ, name, parent, parent)
	return nil
}

func (b *builder) child(s, typ, name string) error {
	parent := b.mark()
	switch b.id.kind {
	case Tenant:
		if !strings.EqualFold(typ, "subscriptions") {
			return &SyntaxError{s, fmt.Sprintf("unexpected segment %q: a tenant-level id starts with /subscriptions or /providers", typ)}
		}
		b.sb.WriteString("/subscriptions/")
		b.sb.WriteString(name)
		b.id.sub = name
		b.set(Subscription, "Microsoft.Resources", "subscriptions", name, parent, parent)
		return nil
	case Subscription:
		if strings.EqualFold(typ, "resourceGroups") {
			b.sb.WriteString("/resourceGroups/")
			b.sb.WriteString(name)
			b.id.rg = name
			b.set(ResourceGroup, "Microsoft.Resources", "resourceGroups", name, parent, parent)
			return nil
		}
		// Subscription children such as /subscriptions/{s}/locations/{l}.
		b.sb.WriteByte('/')
		b.sb.WriteString(typ)
		b.sb.WriteByte('/')
		b.sb.WriteString(name)
		b.set(Resource, "Microsoft.Resources", "subscriptions/"+typ, name, parent, b.id.scope)
		return nil
	case ResourceGroup:
		return &SyntaxError{s, fmt.Sprintf("unexpected segment %q: a resource group holds only /providers/{namespace}/{type}/{name}", typ)}
	}
	// Child of a resource or management group: extend the type path.
	scope, ns, ptyp := b.id.scope, b.id.ns, b.id.typ
	b.sb.WriteByte('/')
	b.sb.WriteString(typ)
	b.sb.WriteByte('/')
	b.sb.WriteString(name)
	b.set(Resource, ns, ptyp+"/"+typ, name, parent, scope)
	return nil
}
