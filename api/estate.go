package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

// registerEstate registers the estate inventory: ARM's containers and the
// generic resource paths.
func (s *Server) registerEstate() {
	s.handle(armid.SubscriptionType, &typeRoutes{
		versions: resourceManagerVersions,
		get:      getResource,
		put:      putResource,
		list: func(c *call) error {
			return listResources(c, posture.ResourceFilter{Under: "/subscriptions", Types: []string{armid.SubscriptionType}})
		},
	})
	s.handle(armid.ResourceGroupType, &typeRoutes{
		versions: resourceManagerVersions,
		get:      getResource,
		put:      putResource,
		patch:    patchResource,
		del:      deleteResource,
		list: func(c *call) error {
			return listResources(c, posture.ResourceFilter{Parent: c.id.Key(), Types: []string{armid.ResourceGroupType}})
		},
	})
	// GET /subscriptions/{s}/resources and …/resourceGroups/{rg}/resources.
	listTracked := &typeRoutes{
		versions: resourceManagerVersions,
		list: func(c *call) error {
			return listResources(c, posture.ResourceFilter{Under: c.id.Key(), TrackedOnly: true})
		},
	}
	s.handle(armid.SubscriptionType+"/resources", listTracked)
	s.handle(armid.ResourceGroupType+"/resources", listTracked)
	s.handle(armid.ManagementGroupType, &typeRoutes{
		versions: managementGroupVersions,
		get:      getResource,
		put:      putResource,
		del:      deleteResource,
		list: func(c *call) error {
			return listResources(c, posture.ResourceFilter{Under: "/providers/microsoft.management/managementgroups", Types: []string{armid.ManagementGroupType}})
		},
	})
	// PUT /providers/Microsoft.Management/managementGroups/{mg}/subscriptions/{s}
	// moves a subscription under a management group.
	s.handle(armid.ManagementGroupType+"/subscriptions", &typeRoutes{
		versions: managementGroupVersions,
		put:      moveSubscription,
	})
	s.handle("Posture.Estate/import", &typeRoutes{versions: postureVersions, post: importDocuments})
}

// genericRoutes serves any resource type in a subscription: posture holds
// the documents as they are.
func (s *Server) genericRoutes(id armid.ID) *typeRoutes {
	if id.Kind() != armid.Resource || id.SubscriptionID() == "" {
		return nil
	}
	return &typeRoutes{get: getResource, put: putResource, patch: patchResource, del: deleteResource}
}

// genericCollection lists a type of resource under a resource group (…/providers/{ns}/{type})
// or the children and extension resources of a resource.
func (s *Server) genericCollection(p armid.Path) *typeRoutes {
	switch {
	case p.ID.Kind() == armid.ResourceGroup && p.Namespace != "":
		return &typeRoutes{list: func(c *call) error {
			return listResources(c, posture.ResourceFilter{Under: c.id.Key(), TrackedOnly: true, Types: []string{p.ItemType()}})
		}}
	case p.ID.Kind() == armid.Resource && p.ID.SubscriptionID() != "":
		return &typeRoutes{list: func(c *call) error {
			return listResources(c, posture.ResourceFilter{Parent: c.id.Key(), Types: []string{p.ItemType()}})
		}}
	}
	return nil
}

func getResource(c *call) error {
	r, err := c.s.Resources.GetResource(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", r.ETag)
	return c.ok(http.StatusOK, r.Body)
}

func putResource(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	r, err := armdoc.FromPut(c.id, body)
	if err != nil {
		return err
	}
	if c.id.Kind() == armid.ResourceGroup && r.Location == "" {
		return posture.Errorf(posture.EINVALID, "LocationRequired", "The location property is required for this definition.")
	}
	return c.write(r)
}

// write stores r and answers 201 for a new resource, 200 for a replaced one.
func (c *call) write(r *posture.Resource) error {
	res, err := c.s.Resources.PutResource(c.ctx, r, posture.PutStrict, c.r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	c.w.Header().Set("ETag", res.Resource.ETag)
	return c.ok(status, res.Resource.Body)
}

// patchResource applies the body as a JSON merge patch (RFC 7386) to the
// stored document: what ARM's PATCH does for tags and properties of most
// types. id, name and type cannot change.
func patchResource(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	old, err := c.s.Resources.GetResource(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	var doc, patch any
	if err := decodeNumbers(old.Body, &doc); err != nil {
		return posture.Internal(err)
	}
	if err := decodeNumbers(body, &patch); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
	}
	if _, ok := patch.(map[string]any); !ok {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "A PATCH body must be a JSON object.")
	}
	merged, _ := json.Marshal(mergePatch(doc, patch))
	r, err := armdoc.FromPut(c.id, merged)
	if err != nil {
		return err
	}
	ifMatch := c.r.Header.Get("If-Match")
	if ifMatch == "" {
		ifMatch = old.ETag // no lost update between our read and our write
	}
	res, err := c.s.Resources.PutResource(c.ctx, r, posture.PutStrict, ifMatch)
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", res.Resource.ETag)
	return c.ok(http.StatusOK, res.Resource.Body)
}

// decodeNumbers decodes JSON keeping numbers as written: a document may
// hold any number JSON allows (1e400, 20-digit ids), and a merge patch
// must neither fail on it nor round it.
func decodeNumbers(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// mergePatch applies an RFC 7386 merge patch.
func mergePatch(doc, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	d, ok := doc.(map[string]any)
	if !ok {
		d = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(d, k)
			continue
		}
		d[k] = mergePatch(d[k], v)
	}
	return d
}

func deleteResource(c *call) error {
	deleted, err := c.s.Resources.DeleteResource(c.ctx, c.id.String(), c.r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	if !deleted {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func listResources(c *call, f posture.ResourceFilter) error {
	if err := parseResourceFilter(c.param("$filter"), &f); err != nil {
		return err
	}
	top, err := c.top(1000)
	if err != nil {
		return err
	}
	after, err := c.cursor()
	if err != nil {
		return err
	}
	f.Limit, f.After = top, after
	page, err := c.s.Resources.ListResources(c.ctx, f)
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(page.Resources))
	for i, r := range page.Resources {
		docs[i] = r.Body
	}
	return c.list(docs, page.Next)
}

// moveSubscription re-parents a subscription under the management group of
// the path, as ARM's management group subscription PUT does.
func moveSubscription(c *call) error {
	mg := c.id.Parent()
	sub := armid.SubscriptionScope(c.id.Name())
	if _, err := c.s.Resources.GetResource(c.ctx, mg.String()); err != nil {
		return err
	}
	r, err := c.s.Resources.GetResource(c.ctx, sub.String())
	if err != nil {
		return err
	}
	var v any
	if err := decodeNumbers(r.Body, &v); err != nil {
		return posture.Internal(err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return posture.Internal(errors.New("a stored subscription is not a JSON object"))
	}
	doc["managementGroupId"] = mg.Name()
	b, _ := json.Marshal(doc)
	nr, err := armdoc.Normalize(b)
	if err != nil {
		return err
	}
	if _, err := c.s.Resources.PutResource(c.ctx, nr, posture.PutStrict, r.ETag); err != nil {
		return err
	}
	out, _ := json.Marshal(map[string]any{
		"id":   c.id.String(),
		"type": armid.ManagementGroupType + "/subscriptions",
		"name": sub.SubscriptionID(),
		"properties": map[string]any{
			"parent":      map[string]string{"id": mg.String()},
			"displayName": displayName(r.Body),
		},
	})
	return c.ok(http.StatusOK, out)
}

func displayName(body []byte) string {
	var d struct {
		DisplayName string `json:"displayName"`
	}
	_ = json.Unmarshal(body, &d)
	return d.DisplayName
}

// importDocuments is POST /providers/Posture.Estate/import: a body in any
// shape armdoc reads. Every document is validated before anything is
// written; a body that is not JSON is refused whole.
func importDocuments(c *call) error {
	if c.r.ContentLength > MaxImportBody {
		return tooLarge(MaxImportBody)
	}
	dec := armdoc.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, MaxImportBody))
	var batch []*posture.Resource
	var rejected []*posture.ImportRejected
	for {
		raw, err := dec.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			var mbe *http.MaxBytesError
			var ne net.Error
			if errors.As(err, &mbe) || errors.As(err, &ne) {
				return bodyError(err, MaxImportBody)
			}
			return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The import body is not valid JSON, nothing was imported: %v.", err)
		}
		r, err := armdoc.Normalize(raw)
		if err != nil {
			rejected = append(rejected, rejection(dec.Index()-1, raw, err))
			continue
		}
		batch = append(batch, r)
	}
	sum := posture.ImportSummary{}
	for len(batch) > 0 {
		n := min(len(batch), 5000)
		part, err := c.s.Resources.ImportResources(c.ctx, batch[:n])
		if err != nil {
			return err
		}
		sum.Add(part)
		batch = batch[n:]
	}
	sum.Read += len(rejected)
	sum.Rejected = rejected
	b, _ := json.Marshal(sum)
	return c.ok(http.StatusOK, b)
}

// rejection describes a document an import refused.
func rejection(index int, raw []byte, err error) *posture.ImportRejected {
	rej := &posture.ImportRejected{Index: index, ID: armdoc.Describe(raw), Code: posture.ErrorCode(err), Message: err.Error()}
	var pe *posture.Error
	if errors.As(err, &pe) {
		rej.Message = pe.Message
	}
	return rej
}
