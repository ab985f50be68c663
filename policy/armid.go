package policy

import "strings"

// A small, segment-aware reader of ARM resource ids. ARM ids compare
// case-insensitively; keywords may come in any casing (the AKS example body
// spells "resourcegroups").

// armID is a parsed resource id.
type armID struct {
	subscription  string   // subscription id as written
	resourceGroup string   // resource group name as written
	namespace     string   // provider namespace of the last "providers" segment
	types         []string // type segments after that namespace
	names         []string // name segments, one per type segment
	parent        string   // id of the parent: the resource a child or extension resource hangs under
	isExtension   bool     // the last provider segment follows a resource (extension resource)
}

// parseARMID splits id into its parts. It accepts subscription, resource
// group, resource, child and extension resource ids, and tolerates
// management-group prefixes.
func parseARMID(id string) armID {
	var out armID
	segs := splitID(id)
	lastProviders := -1
	for i := 0; i+1 < len(segs); i++ {
		switch {
		case strings.EqualFold(segs[i], "subscriptions") && out.subscription == "" && lastProviders < 0:
			out.subscription = segs[i+1]
			i++
		case strings.EqualFold(segs[i], "resourceGroups") && out.resourceGroup == "" && lastProviders < 0:
			out.resourceGroup = segs[i+1]
			i++
		case strings.EqualFold(segs[i], "providers"):
			lastProviders = i
		}
	}
	if lastProviders < 0 || lastProviders+1 >= len(segs) {
		return out
	}
	out.namespace = segs[lastProviders+1]
	rest := segs[lastProviders+2:]
	for i := 0; i+1 < len(rest); i += 2 {
		out.types = append(out.types, rest[i])
		out.names = append(out.names, rest[i+1])
	}
	// The parent: drop the last type/name pair; for a top-level extension
	// resource drop the "providers/NS/type/name" block.
	if len(out.types) > 1 {
		out.parent = "/" + strings.Join(segs[:len(segs)-2], "/")
	} else if len(out.types) == 1 {
		before := segs[:lastProviders]
		out.parent = "/" + strings.Join(before, "/")
		// It is an extension resource when the segments before "providers"
		// name a resource (they contain another providers block), or a scope
		// that is not a plain resource group or subscription container.
		out.isExtension = listContainsFold(before, "providers") || len(before) == 0 ||
			!(len(before) == 2 && strings.EqualFold(before[0], "subscriptions") ||
				len(before) == 4 && strings.EqualFold(before[2], "resourceGroups"))
	}
	return out
}

func splitID(id string) []string {
	id = strings.Trim(id, "/")
	if id == "" {
		return nil
	}
	return strings.Split(id, "/")
}

func listContainsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// fullType returns the resource type named by the id, e.g.
// "Microsoft.Web/sites/config"; subscriptions and resource groups get their
// Microsoft.Resources types.
func (a armID) fullType() string {
	if a.namespace != "" {
		if len(a.types) == 0 {
			return a.namespace
		}
		return a.namespace + "/" + strings.Join(a.types, "/")
	}
	if a.resourceGroup != "" {
		return "Microsoft.Resources/subscriptions/resourceGroups"
	}
	if a.subscription != "" {
		return "Microsoft.Resources/subscriptions"
	}
	return ""
}

// name returns the last name segment.
func (a armID) name() string {
	if len(a.names) > 0 {
		return a.names[len(a.names)-1]
	}
	if a.resourceGroup != "" {
		return a.resourceGroup
	}
	return a.subscription
}

// fullName joins the name segments after the last provider namespace, the
// "parent/child" form Azure Policy's fullName field returns.
func (a armID) fullName() string {
	if len(a.names) > 0 {
		return strings.Join(a.names, "/")
	}
	return a.name()
}

// idHasPrefix reports whether id lies at or under prefix, comparing whole
// segments case-insensitively ("/a/bc" is not under "/a/b").
func idHasPrefix(id, prefix string) bool {
	id = strings.TrimSuffix(id, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	if len(id) < len(prefix) || !strings.EqualFold(id[:len(prefix)], prefix) {
		return false
	}
	return len(id) == len(prefix) || id[len(prefix)] == '/'
}

// idKey is the comparison form of an id.
func idKey(id string) string { return strings.ToLower(strings.TrimSuffix(id, "/")) }

// normalizeLocation turns display names into the short form ARM uses:
// "West US 2" -> "westus2". Azure Policy treats both spellings as equal.
func normalizeLocation(loc string) string {
	if loc == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(loc))
	for _, r := range loc {
		if r == ' ' || r == '\t' {
			continue
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
