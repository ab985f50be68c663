package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// handlerFunc serves one ARM call.
type handlerFunc func(*call) error

// typeRoutes are the handlers of one resource type, keyed in Server.routes by
// the lower-case full type (for collections: the type of their items).
type typeRoutes struct {
	versions apiVersions
	// On an item: GET, PUT, PATCH, DELETE (HEAD is derived from GET).
	get, put, patch, del handlerFunc
	// On a collection of the type: GET lists, POST runs (e.g. a query).
	list, post handlerFunc
	// POST {item id}/{action}, keyed by lower-case action name.
	actions map[string]handlerFunc
	// actionNames overrides, by lower-case action name, the Azure action
	// checked for a POST (queries that Azure names as reads).
	actionNames map[string]string
	// authorize, when set, replaces the standard check (see authorize).
	authorize handlerFunc
	// postReads: POSTs on the collection are queries, rate-limited as
	// reads (ratelimit.go).
	postReads bool
}

func (s *Server) handle(typ string, rt *typeRoutes) {
	s.routes[strings.ToLower(typ)] = rt
}

// call is one ARM request being served.
type call struct {
	s          *Server
	w          http.ResponseWriter
	r          *http.Request
	ctx        context.Context
	path       armid.Path
	id         armid.ID // the item, or the parent of the collection
	apiVersion string
	principal  *posture.Principal
	// filter, when set, hides the rows of a list the caller may not read.
	filter *rowFilter
}

// dispatch serves an ARM path and returns the route label for metrics.
func (s *Server) dispatch(w *recorder, r *http.Request) string {
	c := &call{s: s, w: w, r: r, ctx: r.Context()}
	route, err := s.route(c, w)
	if err != nil {
		if c.principal != nil {
			s.denied(c.ctx, c.principal, err)
		}
		s.writeError(w, r, err)
	}
	return route
}

func (s *Server) route(c *call, w *recorder) (string, error) {
	r := c.r
	p, err := s.authenticate(c)
	if err != nil {
		return "unauthenticated", err
	}
	c.principal = p
	c.ctx = posture.NewContextWithPrincipal(c.ctx, p)
	w.principal = p.ID

	path, err := armid.ParsePath(r.URL.Path)
	if err != nil {
		return "invalid", posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	c.path, c.id = path, path.ID
	h, rt, label, err := s.lookup(c)
	if err := s.throttle(c, rt); err != nil {
		return label, err
	}
	if err != nil {
		return label, err
	}
	v := r.URL.Query().Get("api-version")
	if err := rt.versions.check(v, s.Now()); err != nil {
		return label, err
	}
	c.apiVersion = v
	if err := s.authorize(c, rt); err != nil {
		return label, err
	}
	if s.Exemptions != nil {
		// Expiries due are recorded before anything is read or written.
		// Reads are right without it (states carry their expiry), so a
		// failure is logged and the job tries again.
		if err := s.Exemptions.ExpireDue(c.ctx); err != nil {
			s.Logger.Error("recording exemption expiries", "err", err)
		}
	}
	return label, h(c)
}

// lookup finds the handler of a call.
func (s *Server) lookup(c *call) (handlerFunc, *typeRoutes, string, error) {
	p, method := c.path, c.r.Method
	if !p.IsCollection() {
		typ := p.ID.Type()
		label := strings.ToLower(typ)
		rt := s.routes[strings.ToLower(typ)]
		if rt == nil {
			rt, label = s.genericRoutes(p.ID), "resource"
		}
		if rt == nil {
			return nil, nil, "unknown", unknownType(typ)
		}
		switch method {
		case http.MethodGet:
			return orMethod(rt.get, rt, "GET"), rt, label, nil
		case http.MethodHead:
			if rt.get == nil {
				return nil, nil, label, notAllowed(rt)
			}
			return headOf(rt.get), rt, label, nil
		case http.MethodPut:
			return orMethod(rt.put, rt, "PUT"), rt, label, nil
		case http.MethodPatch:
			return orMethod(rt.patch, rt, "PATCH"), rt, label, nil
		case http.MethodDelete:
			return orMethod(rt.del, rt, "DELETE"), rt, label, nil
		}
		return nil, nil, label, notAllowed(rt)
	}
	if p.Collection == "" {
		return nil, nil, "provider", posture.Errorf(posture.EINVALID, "NotSupported",
			"Resource provider operations (GET %s) are not supported by posture.", c.r.URL.Path)
	}
	// POST {item}/{action}.
	if method == http.MethodPost && p.Namespace == "" && p.ID.Kind() != armid.Tenant {
		if rt := s.routes[strings.ToLower(p.ID.Type())]; rt != nil {
			if a := rt.actions[strings.ToLower(p.Collection)]; a != nil {
				return a, rt, strings.ToLower(p.ID.Type() + "/" + p.Collection), nil
			}
		}
	}
	typ := p.ItemType()
	label := strings.ToLower(typ) + "[]"
	rt := s.routes[strings.ToLower(typ)]
	if rt == nil {
		rt, label = s.genericCollection(p), "resource[]"
	}
	if rt == nil {
		return nil, nil, "unknown", unknownType(typ)
	}
	switch method {
	case http.MethodGet:
		return orMethod(rt.list, rt, "GET"), rt, label, nil
	case http.MethodPost:
		return orMethod(rt.post, rt, "POST"), rt, label, nil
	}
	return nil, nil, label, notAllowed(rt)
}

func unknownType(typ string) error {
	return posture.Errorf(posture.ENOTFOUND, "InvalidResourceType", "The resource type '%s' is not served by posture at this scope.", typ)
}

// orMethod returns h, or a handler refusing the method.
func orMethod(h handlerFunc, rt *typeRoutes, method string) handlerFunc {
	if h != nil {
		return h
	}
	return func(*call) error { return notAllowed(rt) }
}

func notAllowed(rt *typeRoutes) error {
	var allow []string
	if rt.get != nil || rt.list != nil {
		allow = append(allow, "GET")
	}
	if rt.put != nil {
		allow = append(allow, "PUT")
	}
	if rt.patch != nil {
		allow = append(allow, "PATCH")
	}
	if rt.del != nil {
		allow = append(allow, "DELETE")
	}
	if rt.post != nil || len(rt.actions) > 0 {
		allow = append(allow, "POST")
	}
	slices.Sort(allow)
	return posture.Errorf(posture.EMETHOD, "MethodNotAllowed", "The HTTP method is not allowed here; allowed: %s.", strings.Join(allow, ", "))
}

// headOf answers HEAD from a GET handler: the status without a body
// (204 when the thing exists, as ARM's resource-group HEAD does).
func headOf(get handlerFunc) handlerFunc {
	return func(c *call) error {
		hw := &headWriter{ResponseWriter: c.w}
		c.w = hw
		err := get(c)
		if err != nil {
			return err
		}
		if !hw.wrote {
			c.w.WriteHeader(http.StatusNoContent)
		}
		return nil
	}
}

// headWriter swallows the body of a GET served as HEAD and turns 200 into
// 204.
type headWriter struct {
	http.ResponseWriter
	wrote bool
}

func (h *headWriter) WriteHeader(code int) {
	h.wrote = true
	if code == http.StatusOK {
		code = http.StatusNoContent
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headWriter) Write(b []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	return len(b), nil
}
