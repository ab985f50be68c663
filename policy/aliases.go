package policy

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

//go:embed aliasdata/corpus-aliases.json
var embeddedAliases []byte

// AliasCatalog maps Azure Policy aliases to document paths. The built-in
// catalog (DefaultAliases) holds the default paths of every alias used by
// the shipped definitions; see aliasdata/SOURCE.md.
type AliasCatalog struct {
	byName map[string]*aliasEntry // lower-case alias name
}

type aliasEntry struct {
	name         string // catalog spelling
	resourceType string
	path         *docPath
	// byType holds paths for aliases that different types map differently
	// (the one-slash Microsoft.Compute/image* aliases); keys are lower-case
	// types.
	byType map[string]*docPath
}

// aliasOverrides adds per-type paths the corpus map collapsed: it records one
// default path per alias, while the catalog lists Microsoft.Compute/image*
// under several types. Paths follow the ARM shape of each type
// (UNCONFIRMED against the live catalog; see docs/policy-semantics.md).
var aliasOverrides = map[string]map[string]string{
	"microsoft.compute/imageid":        {"microsoft.compute/virtualmachinescalesets": "properties.virtualMachineProfile.storageProfile.imageReference.id"},
	"microsoft.compute/imagepublisher": {"microsoft.compute/virtualmachinescalesets": "properties.virtualMachineProfile.storageProfile.imageReference.publisher"},
	"microsoft.compute/imageoffer":     {"microsoft.compute/virtualmachinescalesets": "properties.virtualMachineProfile.storageProfile.imageReference.offer"},
	"microsoft.compute/imagesku":       {"microsoft.compute/virtualmachinescalesets": "properties.virtualMachineProfile.storageProfile.imageReference.sku"},
	"microsoft.compute/imageversion":   {"microsoft.compute/virtualmachinescalesets": "properties.virtualMachineProfile.storageProfile.imageReference.version"},
}

var (
	defaultAliasesOnce sync.Once
	defaultAliases     *AliasCatalog
)

// DefaultAliases returns the embedded alias catalog.
func DefaultAliases() *AliasCatalog {
	defaultAliasesOnce.Do(func() {
		c, err := ParseAliasCatalog(embeddedAliases)
		if err != nil {
			panic("policy: embedded alias catalog: " + err.Error())
		}
		defaultAliases = c
	})
	return defaultAliases
}

// ParseAliasCatalog reads a catalog in the corpus format:
// {"<alias>": {"catalogAlias": ..., "defaultPath": ..., "resourceType": ...}}.
func ParseAliasCatalog(data []byte) (*AliasCatalog, error) {
	var raw map[string]struct {
		CatalogAlias string `json:"catalogAlias"`
		DefaultPath  string `json:"defaultPath"`
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	c := &AliasCatalog{byName: make(map[string]*aliasEntry, len(raw))}
	for name, e := range raw {
		p, err := parseDocPath(e.DefaultPath)
		if err != nil {
			return nil, fmt.Errorf("alias %s: %w", name, err)
		}
		entry := &aliasEntry{name: name, resourceType: e.ResourceType, path: p}
		if e.CatalogAlias != "" {
			entry.name = e.CatalogAlias
		}
		c.byName[strings.ToLower(name)] = entry
	}
	for alias, types := range aliasOverrides {
		entry, ok := c.byName[alias]
		if !ok {
			continue
		}
		entry.byType = map[string]*docPath{}
		for t, path := range types {
			entry.byType[t] = mustParseDocPath(path)
		}
	}
	return c, nil
}

// Len returns the number of aliases in the catalog.
func (c *AliasCatalog) Len() int { return len(c.byName) }

// Lookup returns the default path of alias, matching case-insensitively.
func (c *AliasCatalog) Lookup(alias string) (path string, ok bool) {
	e, ok := c.byName[strings.ToLower(alias)]
	if !ok {
		return "", false
	}
	return e.path.raw, true
}

// fieldKind says where a field's value comes from.
type fieldKind int

const (
	fieldPath     fieldKind = iota // a document path (alias, identity.type)
	fieldName                      // the resource name
	fieldFullName                  // parent/child name
	fieldType
	fieldLocation
	fieldKindProp // "kind"
	fieldID
	fieldTags // the whole tags object
	fieldTag  // one tag
)

// fieldSpec is a resolved `field` reference.
type fieldSpec struct {
	name    string    // as written in the rule
	kind    fieldKind //
	tag     string    // fieldTag: the tag name
	alias   string    // catalog spelling when resolved from the catalog
	paths   []*docPath
	byType  map[string]*docPath
	derived bool // resolved by the fallback heuristic, not the catalog
	// collection is set for [*] aliases: the field selects a collection of
	// values rather than one value.
	collection bool
}

// pathFor picks the path to read for a resource of the given (lower-case) type.
func (f *fieldSpec) pathsFor(typeKey string) []*docPath {
	if p, ok := f.byType[typeKey]; ok {
		return []*docPath{p}
	}
	return f.paths
}

// resolvedPath describes where the field reads from, for reasons and the
// static field list.
func (f *fieldSpec) resolvedPath() string {
	switch f.kind {
	case fieldName:
		return "name"
	case fieldFullName:
		return "fullName"
	case fieldType:
		return "type"
	case fieldLocation:
		return "location"
	case fieldKindProp:
		return "kind"
	case fieldID:
		return "id"
	case fieldTags:
		return "tags"
	case fieldTag:
		return "tags['" + f.tag + "']"
	}
	if len(f.paths) == 0 {
		return ""
	}
	parts := make([]string, len(f.paths))
	for i, p := range f.paths {
		parts[i] = p.raw
	}
	return strings.Join(parts, " | ")
}

var tagFieldPattern = regexp.MustCompile(`^(?i:tags)(?:\.(.+)|\['(.*)'\]|\[(.*)\])$`)

// resolveField turns a field name into a fieldSpec. typeHints are the
// resource types the rule tests (used for one-slash aliases). The warning is
// non-nil when the alias is not in the catalog and was derived.
func (c *AliasCatalog) resolveField(name string, typeHints []string) (*fieldSpec, *Warning) {
	f := &fieldSpec{name: name}
	switch strings.ToLower(name) {
	case "name":
		f.kind = fieldName
		return f, nil
	case "fullname":
		f.kind = fieldFullName
		return f, nil
	case "type":
		f.kind = fieldType
		return f, nil
	case "location":
		f.kind = fieldLocation
		return f, nil
	case "kind":
		f.kind = fieldKindProp
		return f, nil
	case "id":
		f.kind = fieldID
		return f, nil
	case "tags":
		f.kind = fieldTags
		return f, nil
	case "identity.type":
		f.paths = []*docPath{mustParseDocPath("identity.type")}
		return f, nil
	}
	if m := tagFieldPattern.FindStringSubmatch(name); m != nil {
		f.kind = fieldTag
		switch {
		case m[1] != "":
			f.tag = m[1]
		case m[2] != "" || strings.HasPrefix(name[4:], "['"):
			// tags['''My.Tag'''] names the tag 'My.Tag' (quotes doubled).
			f.tag = strings.ReplaceAll(m[2], "''", "'")
		default:
			f.tag = m[3]
		}
		return f, nil
	}
	f.collection = strings.Contains(name, "[*]")
	if e, ok := c.byName[strings.ToLower(name)]; ok {
		f.alias = e.name
		f.paths = []*docPath{e.path}
		f.byType = e.byType
		f.collection = f.collection || e.path.stars > 0
		return f, nil
	}
	// Not in the catalog: derive candidate paths (docs/policy-semantics.md,
	// "Aliases outside the catalog").
	f.derived = true
	f.paths = deriveAliasPaths(name, typeHints)
	for _, p := range f.paths {
		if p.stars > 0 {
			f.collection = true
		}
	}
	w := &Warning{Code: CodeInvalidPolicyAlias, Message: fmt.Sprintf("alias %q is not in the alias catalog; resolved heuristically to %s", name, f.resolvedPath())}
	return f, w
}

// topLevelProperties are ARM envelope properties that aliases address
// without the "properties." prefix.
var topLevelProperties = map[string]bool{
	"sku": true, "plan": true, "identity": true, "zones": true, "kind": true, "tags": true,
	"location": true, "managedby": true, "extendedlocation": true, "name": true, "type": true, "id": true,
}

// deriveAliasPaths implements the fallback for aliases missing from the
// catalog: strip the "<Namespace>/<type>/" prefix, then try
// "properties.<suffix>", the top-level envelope for sku/plan/identity/zones,
// and the suffix without its first segment (a polymorphic discriminator such
// as "web." in Microsoft.Web/sites/config/web.http20Enabled).
func deriveAliasPaths(alias string, typeHints []string) []*docPath {
	suffix := alias
	if i := strings.LastIndex(alias, "/"); i >= 0 {
		suffix = alias[i+1:]
	}
	// One-slash aliases ("Microsoft.Compute/imageId") carry no type; the
	// suffix is all we have either way.
	var candidates []string
	first := strings.ToLower(strings.SplitN(strings.SplitN(suffix, ".", 2)[0], "[", 2)[0])
	if topLevelProperties[first] {
		candidates = append(candidates, suffix, "properties."+suffix)
	} else {
		candidates = append(candidates, "properties."+suffix)
	}
	if i := strings.Index(suffix, "."); i > 0 && !strings.Contains(suffix[:i], "[") {
		candidates = append(candidates, "properties."+suffix[i+1:])
	}
	_ = typeHints
	seen := map[string]bool{}
	var out []*docPath
	for _, c := range candidates {
		if seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		p, err := parseDocPath(c)
		if err != nil {
			continue
		}
		p.lenient = true
		out = append(out, p)
	}
	return out
}

// AliasNames returns the catalog's alias names, sorted; for tests and tools.
func (c *AliasCatalog) AliasNames() []string {
	out := make([]string, 0, len(c.byName))
	for _, e := range c.byName {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}
