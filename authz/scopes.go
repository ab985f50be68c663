package authz

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/posture/posture/armid"
)

// Hierarchy tells where subscriptions and management groups sit: ARM ids do
// not say which management group holds a subscription, the estate does.
type Hierarchy interface {
	// Ancestors returns the keys (armid.ID.Key form, e.g.
	// "/providers/microsoft.management/managementgroups/mg1") of the
	// management groups above the subscription or management group with
	// the given key, nearest first, without the tenant root "/". It returns
	// nil for a subscription directly under the root or an unknown key.
	Ancestors(scopeKey string) []string
}

// HierarchyMap is a Hierarchy held in memory: each subscription or
// management group key maps to the key of its parent management group.
// Keys are in armid.ID.Key form (lower case, e.g. "/subscriptions/s1").
// Entries for keys directly under the root may be left out.
type HierarchyMap map[string]string

// Ancestors implements Hierarchy. A cycle in the map ends the walk.
func (m HierarchyMap) Ancestors(key string) []string {
	var out []string
	for parent, ok := m[key]; ok && parent != "" && parent != "/"; parent, ok = m[parent] {
		if slices.Contains(out, parent) || parent == key {
			break
		}
		out = append(out, parent)
	}
	return out
}

const (
	subscriptionsPrefix = "/subscriptions/"
	mgPrefix            = "/providers/microsoft.management/managementgroups/"
)

// containerKey returns the key of the subscription or management group at
// the top of key, whose place in the hierarchy is data; "" if there is none
// (the root, tenant-level resources).
func containerKey(key string) string {
	var prefix string
	switch {
	case strings.HasPrefix(key, subscriptionsPrefix):
		prefix = subscriptionsPrefix
	case strings.HasPrefix(key, mgPrefix):
		prefix = mgPrefix
	default:
		return ""
	}
	if i := strings.IndexByte(key[len(prefix):], '/'); i >= 0 {
		return key[:len(prefix)+i]
	}
	return key
}

// ancestorCache remembers Hierarchy answers for one snapshot; the server's
// Hierarchy may query a store.
type ancestorCache struct {
	h  Hierarchy
	mu sync.RWMutex
	m  map[string][]string
}

func (c *ancestorCache) get(container string) []string {
	if c.h == nil || container == "" {
		return nil
	}
	c.mu.RLock()
	anc, ok := c.m[container]
	c.mu.RUnlock()
	if ok {
		return anc
	}
	anc = slices.Clone(c.h.Ancestors(container))
	for i, k := range anc {
		anc[i] = strings.ToLower(k)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCacheEntries {
		c.m = make(map[string][]string)
	}
	c.m[container] = anc
	c.mu.Unlock()
	return anc
}

// appendScopesAbove appends the keys an assignment may sit at to apply at
// key: key itself, each shorter prefix that ends at a segment boundary, the
// management groups above its subscription or management group, and "/".
// The order is nearest first. Prefixes that are not scopes (such as
// "/subscriptions") cost a failed map lookup and nothing else; checking
// every segment boundary is what makes inheritance segment-aware: an
// assignment at /subscriptions/a never applies to /subscriptions/ab.
func appendScopesAbove(dst []string, key string, anc *ancestorCache) []string {
	if key == "/" {
		return append(dst, "/")
	}
	dst = append(dst, key)
	for i := len(key) - 1; i > 0; i-- {
		if key[i] == '/' {
			dst = append(dst, key[:i])
		}
	}
	dst = append(dst, anc.get(containerKey(key))...)
	return append(dst, "/")
}

// scopeKey returns the key of an id: lower case, one slash between
// segments, no trailing slash. Well-formed ids take a fast path; others are
// parsed, which also canonicalises keyword casing and empty segments.
func scopeKey(id string) (string, error) {
	if id == "/" {
		return "/", nil
	}
	if strings.HasPrefix(id, "/") && !strings.HasSuffix(id, "/") && !strings.Contains(id, "//") && len(id) <= armid.MaxLen {
		return strings.ToLower(id), nil
	}
	parsed, err := armid.Parse(id)
	if err != nil {
		return "", err
	}
	return parsed.Key(), nil
}

// ScopeSet is where a principal holds an action: the whole tenant, whole
// subscriptions, whole management groups, or narrower scopes (resource
// groups, resources). It answers for one id in O(log n) plus a cached
// Hierarchy look-up, so lists and Resource Graph rows can be filtered row by
// row. A ScopeSet is immutable and safe for concurrent use.
type ScopeSet struct {
	all      bool
	subs     map[string]bool // subscription keys
	mgs      map[string]bool // management group keys
	prefixes []string        // other keys + "/", sorted, none a prefix of another
	anc      *ancestorCache
}

func newScopeSet(keys []string, anc *ancestorCache) *ScopeSet {
	s := &ScopeSet{subs: map[string]bool{}, mgs: map[string]bool{}, anc: anc}
	var narrow []string
	for _, k := range keys {
		switch c := containerKey(k); {
		case k == "/":
			s.all = true
		case c == k && strings.HasPrefix(k, subscriptionsPrefix):
			s.subs[k] = true
		case c == k:
			s.mgs[k] = true
		default:
			narrow = append(narrow, k+"/")
		}
	}
	// With a "/" after each key, "p is an ancestor of k" becomes "p+/ is a
	// prefix of k+/", and after dropping keys that another key is a prefix
	// of, the greatest key <= k+/ is the only candidate (Contains).
	sort.Strings(narrow)
	for _, k := range narrow {
		if n := len(s.prefixes); n > 0 && strings.HasPrefix(k, s.prefixes[n-1]) {
			continue
		}
		s.prefixes = append(s.prefixes, k)
	}
	return s
}

// All reports whether the set is the whole tenant.
func (s *ScopeSet) All() bool { return s.all }

// Empty reports whether the set holds no scope at all.
func (s *ScopeSet) Empty() bool {
	return !s.all && len(s.subs) == 0 && len(s.mgs) == 0 && len(s.prefixes) == 0
}

// Subscriptions returns the keys of the subscriptions held directly (not
// through a management group), sorted.
func (s *ScopeSet) Subscriptions() []string { return sortedKeys(s.subs) }

// ManagementGroups returns the keys of the management groups held, sorted.
// Every subscription below them is in the set too.
func (s *ScopeSet) ManagementGroups() []string { return sortedKeys(s.mgs) }

// Narrower returns the keys of the resource groups and resources held
// (without their subscription or management group being held), sorted.
func (s *ScopeSet) Narrower() []string {
	out := make([]string, len(s.prefixes))
	for i, p := range s.prefixes {
		out[i] = strings.TrimSuffix(p, "/")
	}
	sort.Strings(out) // "rg" sorts before "rg-1" once the slashes are gone
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Contains reports whether the id (any casing) is at or below a scope of
// the set. An id that does not parse is not contained.
func (s *ScopeSet) Contains(id string) bool {
	if s.all {
		return true
	}
	key, err := scopeKey(id)
	if err != nil {
		return false
	}
	return s.containsKey(key)
}

// ContainsID is Contains for a parsed id.
func (s *ScopeSet) ContainsID(id armid.ID) bool { return s.all || s.containsKey(id.Key()) }

// ContainsSubscription reports whether the whole subscription (an id such
// as "0000…" or "/subscriptions/0000…") is in the set.
func (s *ScopeSet) ContainsSubscription(sub string) bool {
	if s.all {
		return true
	}
	key := strings.ToLower(sub)
	if !strings.HasPrefix(key, subscriptionsPrefix) {
		key = subscriptionsPrefix + key
	}
	return s.containerCovered(key)
}

func (s *ScopeSet) containsKey(key string) bool {
	if s.all {
		return true
	}
	if c := containerKey(key); c != "" && s.containerCovered(c) {
		return true
	}
	if len(s.prefixes) == 0 {
		return false
	}
	k := key + "/"
	i := sort.SearchStrings(s.prefixes, k)
	if i < len(s.prefixes) && s.prefixes[i] == k {
		return true
	}
	return i > 0 && strings.HasPrefix(k, s.prefixes[i-1])
}

// containerCovered reports whether a subscription or management group is
// held, directly or through a management group above it.
func (s *ScopeSet) containerCovered(c string) bool {
	if s.subs[c] || s.mgs[c] {
		return true
	}
	if len(s.mgs) == 0 {
		return false
	}
	for _, mg := range s.anc.get(c) {
		if s.mgs[mg] {
			return true
		}
	}
	return false
}
