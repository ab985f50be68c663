package defender

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// parseAssessmentID splits an assessment id into its resource's key and
// the assessment key, both lower case.
func parseAssessmentID(id string) (armid.ID, string, string, error) {
	aid, err := armid.Parse(id)
	if err != nil {
		return armid.ID{}, "", "", posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	resKey, key, ok := splitAssessmentKey(aid.Key())
	if !ok || !strings.EqualFold(aid.Type(), assessmentType) {
		return armid.ID{}, "", "", posture.Errorf(posture.EINVALID, "InvalidResourceId", "'%s' is not an assessment id ({resourceId}/providers/Microsoft.Security/assessments/{assessmentName}).", id)
	}
	if _, err := uuid.Parse(key); err != nil {
		return armid.ID{}, "", "", posture.Errorf(posture.EINVALID, "InvalidAssessmentName", "The assessment name '%s' is not an assessment key (a GUID).", aid.Name())
	}
	return aid, resKey, key, nil
}

// Assessment implements posture.SecurityService.
func (s *Service) Assessment(ctx context.Context, id string, expand posture.AssessmentExpand) (*posture.Resource, error) {
	aid, resKey, key, err := parseAssessmentID(id)
	if err != nil {
		return nil, err
	}
	var out *posture.Resource
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		meta, err := s.metadataIn(tx, aid.SubscriptionID(), key)
		if err != nil {
			return err
		}
		if _, err := tx.Resource(resKey); err != nil {
			return err
		}
		if doc, err := tx.Resource(aid.Key()); err == nil {
			out = doc
			out.Body = withExpand(doc.Body, meta, expand, s.portalLink(key, resKey))
			return nil
		} else if !posture.IsNotFound(err) {
			return err
		}
		rows, err := tx.PolicyStates(posture.PolicyStateFilter{ResourceKey: resKey})
		if err != nil {
			return err
		}
		rec, ok := s.Catalog.Recommendation(key)
		if ok {
			for _, e := range s.combine(rows) {
				if int(e.rec) == rec.index {
					out = &posture.Resource{ID: aid.String(), Key: aid.Key(), Type: assessmentType, Name: key, Body: s.assessmentBody(resKey, e, expand)}
					return nil
				}
			}
		}
		return posture.Errorf(posture.ENOTFOUND, "AssessmentNotFound", "The resource has no assessment '%s'.", key)
	})
	return out, err
}

// combine turns one resource's state rows into its assessments.
func (s *Service) combine(rows []*posture.ResourceStates) []entry {
	r := &resourceEntry{}
	now := s.now()
	for _, row := range rows {
		if s.isBenchmark(row) {
			r.setSource(row.AssignmentKey, s.entriesOf(row, now))
		}
	}
	return r.combined()
}

// withExpand adds what $expand asks for to a stored assessment.
func withExpand(body []byte, meta *metadataProps, expand posture.AssessmentExpand, l *links) []byte {
	if !expand.Links && !expand.Metadata {
		return body
	}
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	props, _ := doc["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		doc["properties"] = props
	}
	if expand.Links {
		props["links"] = l
	}
	if expand.Metadata && meta != nil {
		props["metadata"] = meta
	}
	b, _ := json.Marshal(doc)
	return b
}

// listCursor pages first through the policy assessments ("p" + the last
// resource key), then through the stored documents ("d" + the last key).
// ListAssessments implements posture.SecurityService.
func (s *Service) ListAssessments(ctx context.Context, f posture.AssessmentFilter) (posture.ResourcePage, error) {
	_, subs, err := s.scopeSubscriptions(ctx, f.Scope)
	if err != nil {
		return posture.ResourcePage{}, err
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	phase, after := "p", ""
	if f.After != "" {
		phase, after = f.After[:1], f.After[1:]
		if phase != "p" && phase != "d" {
			return posture.ResourcePage{}, posture.Errorf(posture.EINVALID, "InvalidSkipToken", "The skip token is not valid.")
		}
	}
	var page posture.ResourcePage
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		list := s.listDerived
		if phase == "d" {
			list = s.listStored
		}
		for {
			for _, sub := range subs {
				under := subscriptionPrefix + sub
				if after != "" && after > under+"0" {
					continue // the cursor is in a later subscription
				}
				next, err := list(tx, under, after, f, &page)
				if err != nil || next != "" {
					page.Next = next
					return err
				}
				after = ""
			}
			if phase == "d" {
				return nil
			}
			phase, list = "d", s.listStored
		}
	})
	return page, err
}

// listDerived adds a subscription's policy assessments after the resource
// key after to the page; it returns the cursor when the page is full.
func (s *Service) listDerived(tx posture.Tx, under, after string, f posture.AssessmentFilter, page *posture.ResourcePage) (string, error) {
	sf := posture.PolicyStateFilter{Under: under, Limit: 256}
	if after != "" {
		sf.After = after + "\x00~" // past every assignment of that resource
	}
	for {
		rows, err := tx.PolicyStates(sf)
		if err != nil {
			return "", err
		}
		full := len(rows) == sf.Limit
		// A resource's rows may go on: keep the last resource for the
		// next read unless it is the only one.
		if full && rows[0].ResourceKey != rows[len(rows)-1].ResourceKey {
			last := rows[len(rows)-1].ResourceKey
			for len(rows) > 0 && rows[len(rows)-1].ResourceKey == last {
				rows = rows[:len(rows)-1]
			}
		}
		s.mu.RLock()
		for i := 0; i < len(rows); {
			j := i + 1
			for j < len(rows) && rows[j].ResourceKey == rows[i].ResourceKey {
				j++
			}
			resKey := rows[i].ResourceKey
			var docs []entry
			if r := s.res[resKey]; r != nil {
				docs = r.source("")
			}
			for _, e := range s.combine(rows[i:j]) {
				if _, stored := slices.BinarySearchFunc(docs, e.rec, byRec); stored {
					continue
				}
				r := s.Catalog.Recommendations[e.rec]
				id := s.assessmentID(resKey, r)
				page.Resources = append(page.Resources, &posture.Resource{ID: id, Key: id, Type: assessmentType, Name: r.Key, Body: s.assessmentBody(resKey, e, f.Expand)})
			}
			i = j
			if len(page.Resources) >= f.Limit {
				s.mu.RUnlock()
				return "p" + resKey, nil
			}
		}
		s.mu.RUnlock()
		if !full {
			return "", nil
		}
		if len(rows) > 0 {
			sf.After = rows[len(rows)-1].ResourceKey + "\x00~"
		} else {
			sf.Limit *= 2 // one resource with more rows than the limit
		}
	}
}

// listStored adds a subscription's stored assessment documents.
func (s *Service) listStored(tx posture.Tx, under, after string, f posture.AssessmentFilter, page *posture.ResourcePage) (string, error) {
	rf := posture.ResourceFilter{Under: under, Types: []string{assessmentTypeKey}, After: after, Limit: f.Limit - len(page.Resources) + 1}
	rs, err := tx.ListResources(rf)
	if err != nil {
		return "", err
	}
	more := len(rs) == rf.Limit
	if more {
		rs = rs[:len(rs)-1]
	}
	metas := map[string]*metadataProps{} // custom metadata is a read each: once a page
	for _, r := range rs {
		_, key, _ := splitAssessmentKey(r.Key)
		meta, seen := metas[key]
		if !seen {
			meta, _ = s.metadataIn(tx, r.SubscriptionID, key)
			metas[key] = meta
		}
		r.Body = withExpand(r.Body, meta, f.Expand, s.portalLink(key, strings.TrimSuffix(r.Key, assessmentsSegment+key)))
		page.Resources = append(page.Resources, r)
	}
	if more {
		return "d" + rs[len(rs)-1].Key, nil
	}
	return "", nil
}

// assessmentInput is what a PUT may say.
type assessmentInput struct {
	Properties struct {
		ResourceDetails map[string]any `json:"resourceDetails"`
		Status          *struct {
			Code        string `json:"code"`
			Cause       string `json:"cause"`
			Description string `json:"description"`
		} `json:"status"`
		AdditionalData map[string]string `json:"additionalData"`
		PartnersData   *struct {
			PartnerName string `json:"partnerName"`
			Secret      string `json:"secret"`
		} `json:"partnersData"`
	} `json:"properties"`
}

var resourceSources = []string{"Azure", "OnPremise", "OnPremiseSql", "Aws", "Gcp"}

// PutAssessment implements posture.SecurityService.
func (s *Service) PutAssessment(ctx context.Context, r *posture.Resource) (posture.PutResult, error) {
	aid, resKey, key, err := parseAssessmentID(r.ID)
	if err != nil {
		return posture.PutResult{}, err
	}
	var in assessmentInput
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	if err := dec.Decode(&in); err != nil {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request body is not a valid assessment: %v.", err)
	}
	p := in.Properties
	src, _ := p.ResourceDetails["source"].(string)
	if src == "" {
		src, _ = p.ResourceDetails["Source"].(string)
	}
	i := slices.IndexFunc(resourceSources, func(v string) bool { return strings.EqualFold(v, src) })
	if i < 0 {
		e := posture.Errorf(posture.EINVALID, "InvalidResourceDetails", "properties.resourceDetails.source must be one of %s.", strings.Join(resourceSources, ", "))
		e.Target = "properties.resourceDetails.source"
		return posture.PutResult{}, e
	}
	if p.Status == nil || parseStatus(p.Status.Code) == stNone {
		e := posture.Errorf(posture.EINVALID, "InvalidStatusCode", "properties.status.code must be Healthy, Unhealthy or NotApplicable.")
		e.Target = "properties.status.code"
		return posture.PutResult{}, e
	}
	var old *posture.Resource
	var meta *metadataProps
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		if meta, err = s.metadataIn(tx, aid.SubscriptionID(), key); err != nil {
			return err
		}
		if _, err := tx.Resource(resKey); err != nil {
			return err
		}
		if o, err := tx.Resource(aid.Key()); err == nil {
			old = o
		} else if !posture.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return posture.PutResult{}, err
	}
	now := s.now().UTC().Format(time.RFC3339)
	st := assessmentStatus{Code: resourceStatus(p.Status.Code), Cause: p.Status.Cause, Description: p.Status.Description,
		FirstEvaluationDate: now, StatusChangeDate: now}
	if old != nil {
		var prev struct {
			Properties struct {
				Status assessmentStatus `json:"status"`
			} `json:"properties"`
		}
		if json.Unmarshal(old.Body, &prev) == nil {
			st.FirstEvaluationDate = prev.Properties.Status.FirstEvaluationDate
			if prev.Properties.Status.Code == st.Code {
				st.StatusChangeDate = prev.Properties.Status.StatusChangeDate
			}
		}
	}
	details := p.ResourceDetails
	details["source"] = resourceSources[i]
	delete(details, "Source")
	if resourceSources[i] == "Azure" {
		details["id"], details["Id"], details["Source"] = resKey, resKey, "Azure"
	}
	doc := map[string]any{
		"id": aid.String(), "name": key, "type": assessmentType,
		"properties": map[string]any{"resourceDetails": details, "displayName": meta.DisplayName, "status": st},
	}
	props := doc["properties"].(map[string]any)
	if len(p.AdditionalData) > 0 {
		props["additionalData"] = p.AdditionalData
	}
	if p.PartnersData != nil {
		// The secret is write-only: it is not kept.
		props["partnersData"] = map[string]string{"partnerName": p.PartnersData.PartnerName}
	}
	body, _ := json.Marshal(doc)
	res, err := s.Resources.PutResource(ctx, &posture.Resource{ID: aid.String(), Key: aid.Key(), Type: assessmentType, Name: key,
		SubscriptionID: aid.SubscriptionID(), Body: body}, posture.PutStrict, "")
	return res, err
}

func resourceStatus(code string) string { return parseStatus(code).String() }

// DeleteAssessment implements posture.SecurityService.
func (s *Service) DeleteAssessment(ctx context.Context, id string) (bool, error) {
	aid, _, _, err := parseAssessmentID(id)
	if err != nil {
		return false, err
	}
	return s.Resources.DeleteResource(ctx, aid.String(), "")
}
