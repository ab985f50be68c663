package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/requests"
)

var requestVersions = apiVersions{requests.APIVersion}

func (s *Server) registerRequests() {
	if s.Requests == nil {
		return
	}
	var rt *typeRoutes
	rt = &typeRoutes{
		versions: requestVersions,
		get:      getRequest,
		put:      putRequest,
		list:     listRequests,
		actions: map[string]handlerFunc{
			"approve":  decideRequest,
			"reject":   decideRequest,
			"withdraw": decideRequest,
		},
		// Reads are checked as any read. Filing needs read on every
		// resource the request names and deciding the exemption
		// permissions: the service checks both, per resource, since no
		// single action at the request's id says it.
		authorize: func(c *call) error {
			if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
				return c.s.authorizeAction(c, rt)
			}
			return nil
		},
	}
	s.handle(requests.Type, rt)
}

// requestDoc adds the deliveries of a request's notices to its document:
// who was told what, and what failed.
func (c *call) requestDoc(r *posture.Resource) ([]byte, error) {
	if c.s.Jobs == nil {
		return r.Body, nil
	}
	jobs, err := c.s.Jobs(c.ctx, posture.JobFilter{Ref: r.Key, Limit: 200})
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		return nil, posture.Internal(err)
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(doc["properties"], &props); err != nil {
		return nil, posture.Internal(err)
	}
	ds := make([]jobDoc, len(jobs))
	for i, j := range jobs {
		ds[i] = jobOf(j)
	}
	props["deliveries"] = mustJSON(ds)
	doc["properties"] = mustJSON(props)
	return json.Marshal(doc)
}

func getRequest(c *call) error {
	r, err := c.s.Requests.Get(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	doc, err := c.requestDoc(r)
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", r.ETag)
	return c.ok(http.StatusOK, doc)
}

func putRequest(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	res, err := c.s.Requests.File(c.ctx, c.id.String(), body)
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

func listRequests(c *call) error {
	top, err := c.top(1000)
	if err != nil {
		return err
	}
	after, err := c.cursor()
	if err != nil {
		return err
	}
	f := requests.Filter{Scope: c.id.Key(), After: after, Limit: top}
	for _, part := range filterClauses(c.param("$filter")) {
		field, value, err := parseEq(part)
		if err != nil {
			return err
		}
		if !strings.EqualFold(field, "status") {
			return badFilter("the field '%s' is not supported; use status eq '{Pending|Approved|Rejected|Withdrawn|Expired}'", clip(field))
		}
		f.Status = value
	}
	page, err := c.s.Requests.List(c.ctx, f)
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(page.Resources))
	for i, r := range page.Resources {
		docs[i] = r.Body
	}
	return c.list(docs, page.Next)
}

// decideRequest serves POST {id}/approve|reject|withdraw with an optional
// body {"reason": "..."}.
func decideRequest(c *call) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if c.r.ContentLength != 0 {
		body, err := c.body()
		if err != nil {
			return err
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content is not valid JSON: %v.", err)
			}
		}
	}
	var r *posture.Resource
	var err error
	switch strings.ToLower(c.path.Collection) {
	case "approve":
		r, err = c.s.Requests.Approve(c.ctx, c.id.String(), in.Reason)
	case "reject":
		r, err = c.s.Requests.Reject(c.ctx, c.id.String(), in.Reason)
	default:
		r, err = c.s.Requests.Withdraw(c.ctx, c.id.String())
	}
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, r.Body)
}
