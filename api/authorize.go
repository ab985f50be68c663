package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/posture/posture"
	"github.com/posture/posture/authz"
)

// authorize checks a call before its handler runs, with the action Azure
// checks for the method and path (authz.ActionFor) at the addressed id, or
// the route's own rule. As in ARM, authorization comes before existence: a
// caller without rights learns nothing about what is there.
//
// A list the caller may read only in part (a Reader of one resource group
// listing the subscription's resources) is not refused: it is filtered row
// by row in call.list. A list where the caller may read nothing is.
func (s *Server) authorize(c *call, rt *typeRoutes) error {
	if rt.authorize != nil {
		return rt.authorize(c)
	}
	return s.authorizeAction(c, rt)
}

// authorizeAction is the standard check: the action of the call at its
// id.
func (s *Server) authorizeAction(c *call, rt *typeRoutes) error {
	action, scope, err := s.actionOf(c, rt)
	if err != nil {
		return err
	}
	if c.path.IsCollection() && c.r.Method == http.MethodGet {
		return s.authorizeList(c, action, scope)
	}
	return s.Authz.Authorize(c.principal, action, scope)
}

// actionOf names the action of a call and the scope it is checked at.
func (s *Server) actionOf(c *call, rt *typeRoutes) (string, string, error) {
	method := c.r.Method
	if method == http.MethodPost && c.path.IsCollection() && rt != nil {
		if a, ok := rt.actionNames[strings.ToLower(c.path.Collection)]; ok {
			return a, c.id.String(), nil
		}
	}
	action, err := authz.ActionFor(method, c.path)
	if err != nil {
		return "", "", posture.Errorf(posture.EMETHOD, "MethodNotAllowed", "The HTTP method %s is not allowed here.", clip(method))
	}
	return action, c.id.String(), nil
}

// authorizeList lets a list through when the caller holds the read action
// at the list's scope, or somewhere under it (then rows are filtered).
func (s *Server) authorizeList(c *call, action, scope string) error {
	p := c.principal
	if s.Authz.Allowed(p.ID, action, scope) {
		return nil
	}
	set, err := s.Authz.ReadableScopes(p.ID, action)
	if err != nil || !holdsUnder(set, c.id.Key()) {
		return authz.Deny(p, action, scope)
	}
	c.filter = &rowFilter{f: s.Authz.ReadFilter(p.ID)}
	return nil
}

// holdsUnder reports whether the set holds a scope at or under key. A
// management group's subscriptions are data, so under a group (or the
// root) any held scope counts: the rows are filtered anyway.
func holdsUnder(set *authz.ScopeSet, key string) bool {
	if set.All() {
		return true
	}
	if set.Empty() {
		return false
	}
	if key == "/" || strings.HasPrefix(key, "/providers/microsoft.management/managementgroups/") {
		return true
	}
	for _, k := range append(set.Subscriptions(), set.Narrower()...) {
		if k == key || strings.HasPrefix(k, key+"/") || strings.HasPrefix(key, k+"/") {
			return true
		}
	}
	return set.ContainsSubscription(strings.TrimPrefix(subscriptionKey(key), "/subscriptions/"))
}

func subscriptionKey(key string) string {
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return "/subscriptions/" + sub
}

// rowFilter decides which rows of a list the caller may read. authz's
// ReadFilter is for one goroutine; Resource Graph may ask from several.
type rowFilter struct {
	mu sync.Mutex
	f  *authz.ReadFilter
}

func (r *rowFilter) allows(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Allows(id)
}

// visible keeps the documents of a list whose id the caller may read.
func (r *rowFilter) visible(docs []json.RawMessage) []json.RawMessage {
	out := docs[:0:0]
	for _, d := range docs {
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(d, &head) == nil && head.ID != "" && r.allows(head.ID) {
			out = append(out, d)
		}
	}
	return out
}

// readable returns what the caller may see in Resource Graph: nil when it
// may read everything, else a row filter by id.
func (s *Server) readable(c *call) *posture.ReadableScopes {
	if s.Authz.Allowed(c.principal.ID, authz.ActionReadAll, "/") {
		return nil
	}
	f := &rowFilter{f: s.Authz.ReadFilter(c.principal.ID)}
	return &posture.ReadableScopes{Allow: f.allows}
}

// builtinReadsOpen lets every signed-in caller read what Azure publishes
// to all tenants at the tenant level: built-in policy definitions and
// initiatives, Defender's recommendation metadata and control
// definitions. Reads at a management group or subscription, and every
// write, get the standard check.
func builtinReadsOpen(rt *typeRoutes) handlerFunc {
	return func(c *call) error {
		get := c.r.Method == http.MethodGet || c.r.Method == http.MethodHead
		if get && c.id.SubscriptionID() == "" && !strings.HasPrefix(strings.ToLower(c.id.String()), "/providers/microsoft.management/") {
			return nil
		}
		return c.s.authorizeAction(c, rt)
	}
}
