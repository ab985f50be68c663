package defender

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// customMetadataKey is the store key of a subscription's custom
// recommendation.
func customMetadataKey(sub, key string) string {
	return strings.ToLower(subscriptionPrefix + sub + "/providers/" + metadataType + "/" + key)
}

// metadataIn returns the recommendation with the key: built-in, or custom
// in the subscription.
func (s *Service) metadataIn(tx posture.Tx, sub, key string) (*metadataProps, error) {
	if r, ok := s.Catalog.Recommendation(key); ok {
		m := r.metadata()
		return &m, nil
	}
	if sub != "" {
		doc, err := tx.Resource(customMetadataKey(sub, key))
		if err == nil {
			var d metadataDoc
			if err := json.Unmarshal(doc.Body, &d); err != nil {
				return nil, err
			}
			return &d.Properties, nil
		}
		if !posture.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, posture.Errorf(posture.ENOTFOUND, "AssessmentMetadataNotFound", "There is no assessment metadata (recommendation) '%s'.", key)
}

// Metadata implements posture.SecurityService.
func (s *Service) Metadata(ctx context.Context, sub, key string) (*posture.Resource, error) {
	if r, ok := s.Catalog.Recommendation(key); ok {
		return s.builtinMetadata(sub, r), nil
	}
	if sub == "" {
		return nil, posture.Errorf(posture.ENOTFOUND, "AssessmentMetadataNotFound", "There is no built-in assessment metadata '%s'.", key)
	}
	var out *posture.Resource
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		if err := subscriptionExists(tx, sub); err != nil {
			return err
		}
		doc, err := tx.Resource(customMetadataKey(sub, key))
		if posture.IsNotFound(err) {
			return posture.Errorf(posture.ENOTFOUND, "AssessmentMetadataNotFound", "There is no assessment metadata '%s' in the subscription.", key)
		}
		out = doc
		return err
	})
	return out, err
}

func subscriptionExists(tx posture.Tx, sub string) error {
	_, err := tx.Resource(strings.ToLower(subscriptionPrefix + sub))
	if posture.IsNotFound(err) {
		return posture.Errorf(posture.ENOTFOUND, "SubscriptionNotFound", "The subscription '%s' could not be found.", sub)
	}
	return err
}

// builtinMetadata is a built-in recommendation, at the tenant or as a
// subscription lists it.
func (s *Service) builtinMetadata(sub string, r *Recommendation) *posture.Resource {
	id := "/providers/" + metadataType + "/" + r.Key
	body := r.metadataDoc()
	if sub != "" {
		id = subscriptionPrefix + sub + id
		var d metadataDoc
		_ = json.Unmarshal(body, &d)
		d.ID = id
		body, _ = json.Marshal(d)
	}
	return &posture.Resource{ID: id, Key: strings.ToLower(id), Type: metadataType, Name: r.Key, Body: body}
}

// ListMetadata implements posture.SecurityService.
func (s *Service) ListMetadata(ctx context.Context, sub string) ([]*posture.Resource, error) {
	var out []*posture.Resource
	for _, r := range s.Catalog.Recommendations {
		out = append(out, s.builtinMetadata(sub, r))
	}
	if sub == "" {
		return out, nil
	}
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		if err := subscriptionExists(tx, sub); err != nil {
			return err
		}
		rs, err := tx.ListResources(posture.ResourceFilter{Under: strings.ToLower(subscriptionPrefix + sub), Types: []string{strings.ToLower(metadataType)}})
		out = append(out, rs...)
		return err
	})
	return out, err
}

var (
	severities  = []string{"Low", "Medium", "High"}
	efforts     = []string{"Low", "Moderate", "High"}
	categories  = []string{"Compute", "Networking", "Data", "IdentityAndAccess", "IoT"}
	threats     = []string{"accountBreach", "dataExfiltration", "dataSpillage", "maliciousInsider", "elevationOfPrivilege", "threatResistance", "missingCoverage", "denialOfService"}
	customTypes = []string{"CustomerManaged", "VerifiedPartner", "CustomPolicy"}
)

// PutMetadata implements posture.SecurityService.
func (s *Service) PutMetadata(ctx context.Context, r *posture.Resource) (posture.PutResult, error) {
	id, err := armid.Parse(r.ID)
	if err != nil {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	key := strings.ToLower(id.Name())
	if _, ok := s.Catalog.Recommendation(key); ok {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "BuiltInAssessmentMetadataReadOnly",
			"The assessment metadata '%s' is built in and cannot be changed; create custom metadata under another key.", key)
	}
	if _, err := uuid.Parse(key); err != nil {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidAssessmentName", "The assessment metadata name '%s' is not a GUID.", id.Name())
	}
	var in metadataDoc
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request body is not valid assessment metadata: %v.", err)
	}
	p := in.Properties
	var problems []*posture.Error
	bad := func(target, format string, args ...any) {
		e := posture.Errorf(posture.EINVALID, "InvalidAssessmentMetadata", format, args...)
		e.Target = target
		problems = append(problems, e)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		bad("properties.displayName", "displayName is required.")
	}
	oneOf := func(target, v string, allowed []string, required bool) string {
		if v == "" && !required {
			return ""
		}
		i := slices.IndexFunc(allowed, func(a string) bool { return strings.EqualFold(a, v) })
		if i < 0 {
			bad(target, "%s must be one of %s.", target, strings.Join(allowed, ", "))
			return v
		}
		return allowed[i]
	}
	p.Severity = oneOf("properties.severity", p.Severity, severities, true)
	p.AssessmentType = oneOf("properties.assessmentType", p.AssessmentType, customTypes, true)
	p.UserImpact = oneOf("properties.userImpact", p.UserImpact, efforts, false)
	p.ImplementationEffort = oneOf("properties.implementationEffort", p.ImplementationEffort, efforts, false)
	for i, c := range p.Categories {
		p.Categories[i] = oneOf("properties.categories", c, categories, true)
	}
	for i, t := range p.Threats {
		p.Threats[i] = oneOf("properties.threats", t, threats, true)
	}
	if len(problems) > 0 {
		e := problems[0]
		if len(problems) > 1 {
			e = posture.Errorf(posture.EINVALID, "InvalidAssessmentMetadata", "The assessment metadata has %d problems.", len(problems))
			for _, pr := range problems {
				e.Details = append(e.Details, pr)
			}
		}
		return posture.PutResult{}, e
	}
	p.PolicyDefinitionID, p.PostureSource = "", nil // read-only
	body, _ := json.Marshal(metadataDoc{ID: id.String(), Name: key, Type: metadataType, Properties: p})
	return s.Resources.PutResource(ctx, &posture.Resource{ID: id.String(), Key: id.Key(), Type: metadataType, Name: key,
		SubscriptionID: id.SubscriptionID(), Body: body}, posture.PutStrict, "")
}

// DeleteMetadata implements posture.SecurityService: the recommendation's
// assessments in the subscription go with it, as in Azure.
func (s *Service) DeleteMetadata(ctx context.Context, idText string) (bool, error) {
	id, err := armid.Parse(idText)
	if err != nil {
		return false, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	key := strings.ToLower(id.Name())
	if _, ok := s.Catalog.Recommendation(key); ok {
		return false, posture.Errorf(posture.EINVALID, "BuiltInAssessmentMetadataReadOnly", "The assessment metadata '%s' is built in and cannot be deleted.", key)
	}
	var assessments []string
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		rs, err := tx.ListResources(posture.ResourceFilter{Under: strings.ToLower(subscriptionPrefix + id.SubscriptionID()), Types: []string{assessmentTypeKey}, KeysOnly: true})
		for _, r := range rs {
			if strings.HasSuffix(r.Key, "/"+key) {
				assessments = append(assessments, r.Key)
			}
		}
		return err
	})
	if err != nil {
		return false, err
	}
	for _, a := range assessments {
		if _, err := s.Resources.DeleteResource(ctx, a, ""); err != nil {
			return false, err
		}
	}
	return s.Resources.DeleteResource(ctx, id.String(), "")
}
