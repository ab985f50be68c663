package armid

import "strings"

// String returns the canonical text of the id: "/" for the tenant root,
// keywords (subscriptions, resourceGroups, providers) in ARM casing and names
// as given.
func (id ID) String() string {
	if id.text == "" {
		return "/"
	}
	return id.text
}

// Key returns the lower-case canonical text, the form to compare and index.
func (id ID) Key() string { return strings.ToLower(id.String()) }

// Equal reports whether two ids address the same thing (case-insensitively).
func (id ID) Equal(o ID) bool { return strings.EqualFold(id.text, o.text) }

// Kind returns what the id addresses.
func (id ID) Kind() Kind { return id.kind }

// IsRoot reports whether id is the tenant root.
func (id ID) IsRoot() bool { return id.text == "" }

// SubscriptionID returns the subscription segment, or "".
func (id ID) SubscriptionID() string { return id.sub }

// ResourceGroup returns the resource group segment, or "".
func (id ID) ResourceGroup() string { return id.rg }

// ManagementGroup returns the management group name for ids at or under a
// management group, or "".
func (id ID) ManagementGroup() string { return id.mg }

// Name returns the last name segment ("" for the tenant root).
func (id ID) Name() string { return id.name }

// Namespace returns the provider namespace of the addressed thing.
func (id ID) Namespace() string {
	if id.kind == Tenant {
		return "Microsoft.Resources"
	}
	return id.ns
}

// Type returns the full ARM type, e.g. "Microsoft.Compute/virtualMachines",
// "Microsoft.Web/sites/config", "Microsoft.Resources/resourceGroups".
func (id ID) Type() string {
	switch id.kind {
	case Tenant:
		return TenantType
	case ResourceGroup:
		return ResourceGroupType
	}
	return id.ns + "/" + id.typ
}

// FullName returns the names of a child resource joined by "/" from its
// top-level resource down, e.g. "myServer/myDb" (Azure Policy's fullName).
func (id ID) FullName() string {
	if id.kind != Resource {
		return id.name
	}
	rest := id.text[id.scope:]
	// rest is /providers/{ns}/{type}/{name}[/{type}/{name}]...
	segs := strings.Split(rest, "/")[3:]
	names := make([]string, 0, len(segs)/2)
	for i := 1; i < len(segs); i += 2 {
		names = append(names, segs[i])
	}
	return strings.Join(names, "/")
}

// IsChild reports whether id is a child resource (its parent is a resource
// of the same provider, e.g. a subnet of a virtual network).
func (id ID) IsChild() bool {
	return id.kind == Resource && id.parent != id.scope
}

// Parent returns the id one level up: a child's parent resource, a
// resource's scope, a resource group's subscription, and the tenant root for
// subscriptions and management groups (whose place in the management group
// hierarchy is data, not part of the id). The root's parent is the root.
func (id ID) Parent() ID {
	if id.kind == Tenant {
		return Root
	}
	return mustReparse(id.text[:id.parent])
}

// Scope returns what a resource sits on: the resource group, subscription,
// management group or tenant for ordinary resources, and the extended
// resource for extension resources such as policy exemptions. For the
// container kinds it is the same as Parent.
func (id ID) Scope() ID {
	if id.kind != Resource {
		return id.Parent()
	}
	return mustReparse(id.text[:id.scope])
}

// IsExtension reports whether id is a resource attached to another resource
// (not to a resource group, subscription, management group or the tenant).
func (id ID) IsExtension() bool {
	return id.kind == Resource && id.Scope().kind == Resource
}

// Ancestors returns the ids above id, nearest first, ending with the root.
// It follows the id only; management group membership is not part of it.
func (id ID) Ancestors() []ID {
	var out []ID
	for cur := id; !cur.IsRoot(); {
		cur = cur.Parent()
		out = append(out, cur)
	}
	return out
}

// Contains reports whether o is id or lies under it in the id hierarchy
// (segment-aware and case-insensitive: /subscriptions/a does not contain
// /subscriptions/ab). The root contains everything.
func (id ID) Contains(o ID) bool {
	if id.text == "" {
		return true
	}
	if len(o.text) < len(id.text) || !strings.EqualFold(o.text[:len(id.text)], id.text) {
		return false
	}
	return len(o.text) == len(id.text) || o.text[len(id.text)] == '/'
}

// Child returns the child resource typ/name under id, e.g. a subnet under a
// virtual network. It panics on the root and on resource groups, which hold
// only provider resources.
func (id ID) Child(typ, name string) ID {
	return mustReparse(id.text + "/" + typ + "/" + name)
}

// Provider returns the resource ns/typ/name attached to id, e.g. a resource
// in a resource group or an extension resource such as a policy exemption.
func (id ID) Provider(ns, typ, name string) ID {
	return mustReparse(id.text + "/providers/" + ns + "/" + typ + "/" + name)
}

// SubscriptionScope returns /subscriptions/{sub}.
func SubscriptionScope(sub string) ID { return mustReparse("/subscriptions/" + sub) }

// ResourceGroupScope returns /subscriptions/{sub}/resourceGroups/{rg}.
func ResourceGroupScope(sub, rg string) ID {
	return mustReparse("/subscriptions/" + sub + "/resourceGroups/" + rg)
}

// ManagementGroupScope returns /providers/Microsoft.Management/managementGroups/{mg}.
func ManagementGroupScope(mg string) ID {
	return mustReparse("/providers/Microsoft.Management/managementGroups/" + mg)
}

// mustReparse parses text produced from a valid id; a failure is a bug.
func mustReparse(text string) ID {
	if text == "" {
		return Root
	}
	id, err := Parse(text)
	if err != nil {
		panic("armid: derived id does not parse: " + err.Error())
	}
	return id
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}
