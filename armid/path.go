package armid

import (
	"fmt"
	"strings"
)

// Path is a parsed request path. ARM paths address an id, a collection under
// an id, or an action on an id:
//
//	/subscriptions/{s}/resourceGroups/{rg}              ID
//	/subscriptions/{s}/resourcegroups                   ID=/subscriptions/{s}, Collection "resourceGroups"
//	{scope}/providers/Microsoft.Authorization/policyExemptions
//	                                                    ID={scope}, Namespace "Microsoft.Authorization", Collection "policyExemptions"
//	{exemption id}/preview                              ID={exemption id}, Collection "preview" (an action for POST)
//	/providers/Microsoft.Management/managementGroups    ID=/, Namespace "Microsoft.Management", Collection "managementGroups"
//	/subscriptions/{s}/providers/Microsoft.Compute      ID=/subscriptions/{s}, Namespace "Microsoft.Compute" (a provider)
type Path struct {
	ID         ID
	Namespace  string // set when the tail is providers/{ns}[/{type}]
	Collection string // the listed type, child type or action; "" when the path addresses ID
}

// ParsePath parses an ARM request path (without query string).
func ParsePath(s string) (Path, error) {
	segs, err := split(s)
	if err != nil {
		return Path{}, err
	}
	id, rest, err := parseSegments(s, segs)
	if err != nil {
		return Path{}, err
	}
	p := Path{ID: id}
	switch {
	case len(rest) == 0:
	case strings.EqualFold(rest[0], "providers"):
		if len(rest) == 1 {
			return Path{}, &SyntaxError{s, "'providers' must be followed by a namespace"}
		}
		p.Namespace = rest[1]
		if len(rest) == 3 {
			p.Collection = rest[2]
		}
	case len(rest) == 1:
		p.Collection = rest[0]
	default:
		return Path{}, &SyntaxError{s, fmt.Sprintf("unexpected segments %q", strings.Join(rest, "/"))}
	}
	return p, nil
}

// IsCollection reports whether the path names a collection, a provider or
// an action rather than the id itself.
func (p Path) IsCollection() bool { return p.Collection != "" || p.Namespace != "" }

// ItemType returns the full type of the items of a collection path:
// "Microsoft.Authorization/policyExemptions" for a provider collection,
// "Microsoft.Network/virtualNetworks/subnets" for a child collection of a
// virtual network, "Microsoft.Resources/resourceGroups" for
// /subscriptions/{s}/resourceGroups. It is "" for a path that is not a
// collection.
func (p Path) ItemType() string {
	switch {
	case p.Collection == "":
		return ""
	case p.Namespace != "":
		return p.Namespace + "/" + p.Collection
	}
	switch p.ID.kind {
	case Tenant:
		if strings.EqualFold(p.Collection, "subscriptions") {
			return SubscriptionType
		}
		return "Microsoft.Resources/" + p.Collection
	case Subscription:
		if strings.EqualFold(p.Collection, "resourceGroups") {
			return ResourceGroupType
		}
		return SubscriptionType + "/" + p.Collection
	case ResourceGroup:
		return ResourceGroupType + "/" + p.Collection
	}
	return p.ID.Type() + "/" + p.Collection
}

// Item returns the id of the item name in a collection path. It reports
// false when the path is not a collection or name is not a valid segment.
func (p Path) Item(name string) (ID, bool) {
	if p.Collection == "" || name == "" || strings.ContainsAny(name, "/") {
		return ID{}, false
	}
	var text string
	if p.Namespace != "" {
		text = p.ID.text + "/providers/" + p.Namespace + "/" + p.Collection + "/" + name
	} else {
		text = p.ID.text + "/" + p.Collection + "/" + name
	}
	id, err := Parse(text)
	return id, err == nil
}
