package compliance

import (
	"maps"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

const mgPrefix = "/providers/microsoft.management/managementgroups/"

// hierarchy places subscriptions under management groups. It is data, not
// part of ids, so assignments at a management group need it to know what
// they cover. A hierarchy is never changed once published: writers clone it.
type hierarchy struct {
	parent map[string]string // management group or subscription key -> parent group key
}

func newHierarchy() *hierarchy { return &hierarchy{parent: map[string]string{}} }

func (h *hierarchy) clone() *hierarchy { return &hierarchy{parent: maps.Clone(h.parent)} }

// apply records the place of a management group or subscription document.
func (h *hierarchy) apply(r *posture.Resource) {
	if isContainer(r.Key) {
		h.parent[r.Key] = r.ParentKey
	}
}

// remove forgets the groups and subscriptions at or under key.
func (h *hierarchy) remove(key string) {
	for k := range h.parent {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(h.parent, k)
		}
	}
}

func isContainer(key string) bool {
	if strings.HasPrefix(key, mgPrefix) {
		return !strings.Contains(key[len(mgPrefix):], "/")
	}
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	return ok && !strings.Contains(rest, "/")
}

// covers reports whether an assignment at scope covers the resource: by id
// for subscriptions, resource groups and resources, through the hierarchy
// for management groups.
func (h *hierarchy) covers(scope string, r *posture.Resource) bool {
	if scope == "" || scope == "/" {
		return true
	}
	if strings.HasPrefix(scope, mgPrefix) && !strings.Contains(scope[len(mgPrefix):], "/") {
		if r.SubscriptionID == "" {
			return false
		}
		for p, hops := h.parent["/subscriptions/"+r.SubscriptionID], 0; p != "" && hops < 64; p, hops = h.parent[p], hops+1 {
			if p == scope {
				return true
			}
		}
		return false
	}
	return r.Key == scope || strings.HasPrefix(r.Key, scope+"/")
}

// subscriptionsUnder returns the subscriptions a management group covers.
func (h *hierarchy) subscriptionsUnder(mg string) []string {
	var out []string
	for k := range h.parent {
		if !strings.HasPrefix(k, "/subscriptions/") {
			continue
		}
		for p, hops := h.parent[k], 0; p != "" && hops < 64; p, hops = h.parent[p], hops+1 {
			if p == mg {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// scopeRoots returns the key ranges an assignment at scope covers: the
// scope itself, or for a management group its subscriptions.
func (h *hierarchy) scopeRoots(scope string) []string {
	id, err := armid.Parse(scope)
	if err != nil {
		return nil
	}
	switch id.Kind() {
	case armid.Tenant:
		return []string{"/subscriptions"}
	case armid.ManagementGroup:
		return h.subscriptionsUnder(id.Key())
	}
	return []string{id.Key()}
}

// coversKey reports whether scope covers the resource with key in
// subscription sub (lower case).
func (h *hierarchy) coversKey(scope, key, sub string) bool {
	return h.covers(scope, &posture.Resource{Key: key, SubscriptionID: sub})
}

func isGroup(key string) bool {
	return strings.HasPrefix(key, mgPrefix) && !strings.Contains(key[len(mgPrefix):], "/")
}

// subscriptionOf returns the subscription key a scope key lies in, "" for
// none.
func subscriptionOf(key string) string {
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return "/subscriptions/" + rest
}

// scopeUnder reports whether scope key s is at or under scope key of:
// through the management group hierarchy when of is a group.
func (h *hierarchy) scopeUnder(s, of string) bool {
	switch {
	case s == of || of == "/" || of == "":
		return true
	case !isGroup(of):
		return strings.HasPrefix(s, of+"/")
	}
	start := subscriptionOf(s)
	if isGroup(s) {
		start = s
	}
	if start == "" {
		return false
	}
	for p, hops := h.parent[start], 0; p != "" && hops < 64; p, hops = h.parent[p], hops+1 {
		if p == of {
			return true
		}
	}
	return false
}

// Ancestors returns the keys of the management groups above the
// subscription or management group with the given key, nearest first,
// without the root (authz.Hierarchy).
func (s *Service) Ancestors(key string) []string {
	s.mu.RLock()
	h := s.hier
	s.mu.RUnlock()
	if h == nil {
		return nil
	}
	var out []string
	for p, hops := h.parent[key], 0; p != "" && p != "/" && hops < 64; p, hops = h.parent[p], hops+1 {
		if !strings.HasPrefix(p, mgPrefix) {
			break
		}
		out = append(out, p)
	}
	return out
}
