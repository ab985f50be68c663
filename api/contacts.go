package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/securitycontact"
)

// Security contacts are estate documents (the benchmark's "subscriptions
// should have a contact email address" policy reads them), stored in the
// newest shape and served in the shape of each api-version.
func (s *Server) registerContacts() {
	s.handle(securitycontact.Type, &typeRoutes{
		versions: apiVersions(securitycontact.Versions),
		get:      getContact,
		put:      func(c *call) error { return putContact(c, false) },
		patch:    func(c *call) error { return putContact(c, true) },
		del:      deleteResource,
		list:     listContacts,
	})
}

// contactID checks the id and gives the stored name ("default" in any
// case is the one contact of later versions).
func contactID(c *call) (armid.ID, error) {
	if c.id.Scope().Kind() != armid.Subscription {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidScope", "Security contacts belong to a subscription (/subscriptions/{id}/providers/Microsoft.Security/securityContacts/{name}).")
	}
	name, err := securitycontact.CanonicalName(c.id.Name(), c.apiVersion)
	if err != nil {
		return armid.ID{}, err
	}
	return c.id.Scope().Provider("Microsoft.Security", "securityContacts", name), nil
}

func contactDoc(r *posture.Resource, apiVersion string) ([]byte, error) {
	ct, err := securitycontact.FromDocument(r.Body)
	if err != nil {
		return nil, err
	}
	return securitycontact.DocumentWith(r.ID, r.Name, ct, apiVersion, securitycontact.Meta{ETag: r.ETag, Location: r.Location}), nil
}

func getContact(c *call) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	r, err := c.s.Resources.GetResource(c.ctx, id.String())
	if err != nil {
		return err
	}
	doc, err := contactDoc(r, c.apiVersion)
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", r.ETag)
	return c.ok(http.StatusOK, doc)
}

func putContact(c *call, patch bool) error {
	if patch && !securitycontact.SupportsPatch(c.apiVersion) {
		return posture.Errorf(posture.EMETHOD, "MethodNotAllowed", "PATCH of security contacts exists at api-version 2017-08-01-preview only.")
	}
	id, err := contactID(c)
	if err != nil {
		return err
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	var ct *securitycontact.Contact
	if patch {
		r, err := c.s.Resources.GetResource(c.ctx, id.String())
		if err != nil {
			return err
		}
		if ct, err = securitycontact.FromDocument(r.Body); err != nil {
			return err
		}
		if err := ct.ApplyPatch(body, c.apiVersion); err != nil {
			return err
		}
	} else if ct, err = securitycontact.Parse(id.Name(), body, c.apiVersion); err != nil {
		return err
	}
	r, err := armdoc.FromPut(id, securitycontact.Document(id.String(), id.Name(), ct, securitycontact.StoredVersion))
	if err != nil {
		return err
	}
	res, err := c.s.Resources.PutResource(c.ctx, r, posture.PutStrict, c.r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	doc, err := contactDoc(res.Resource, c.apiVersion)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created && c.apiVersion != securitycontact.V2017 {
		status = http.StatusCreated // 2017-08-01-preview answers 200 only
	}
	c.w.Header().Set("ETag", res.Resource.ETag)
	return c.ok(status, doc)
}

func listContacts(c *call) error {
	if c.id.Kind() != armid.Subscription {
		return posture.Errorf(posture.EINVALID, "InvalidScope", "Security contacts are listed at a subscription.")
	}
	page, err := c.s.Resources.ListResources(c.ctx, posture.ResourceFilter{Parent: c.id.Key(), Types: []string{strings.ToLower(securitycontact.Type)}, Limit: 1000})
	if err != nil {
		return err
	}
	var docs []json.RawMessage
	for _, r := range page.Resources {
		// Legacy 2017 names are visible at 2017 only.
		if c.apiVersion != securitycontact.V2017 && !strings.EqualFold(r.Name, securitycontact.DefaultName) {
			continue
		}
		doc, err := contactDoc(r, c.apiVersion)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	}
	return c.list(docs, "")
}
