package compliance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/policy"
)

// objectType classifies a policy object id.
func objectType(id armid.ID) string { return canonicalType(id.Type()) }

// canonicalType returns the policy object type t names, "" for others.
func canonicalType(t string) string {
	switch {
	case strings.EqualFold(t, DefinitionType):
		return DefinitionType
	case strings.EqualFold(t, SetDefinitionType):
		return SetDefinitionType
	case strings.EqualFold(t, AssignmentType):
		return AssignmentType
	}
	return ""
}

func parseObjectID(s string) (armid.ID, string, error) {
	id, err := armid.Parse(s)
	if err != nil {
		return armid.ID{}, "", posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	typ := objectType(id)
	if typ == "" {
		return armid.ID{}, "", posture.Errorf(posture.EINVALID, "InvalidResourceType", "'%s' is not a policy definition, set definition or assignment.", s)
	}
	return id, typ, nil
}

// notFoundCode is Azure's not-found code per policy type.
func notFound(typ string, id armid.ID) error {
	switch typ {
	case DefinitionType:
		return posture.Errorf(posture.ENOTFOUND, "PolicyDefinitionNotFound", "The policy definition '%s' could not be found.", id.Name())
	case SetDefinitionType:
		return posture.Errorf(posture.ENOTFOUND, "PolicySetDefinitionNotFound", "The policy set definition '%s' could not be found.", id.Name())
	}
	return posture.Errorf(posture.ENOTFOUND, "PolicyAssignmentNotFound", "The policy assignment '%s' is not found.", id.Name())
}

// builtin returns a built-in definition or initiative as a resource.
func (s *Service) builtin(id armid.ID, typ string) (*posture.Resource, bool) {
	var raw json.RawMessage
	switch typ {
	case DefinitionType:
		d, ok := s.Registry.Definition(id.String())
		if !ok || !isBuiltinType(d.PolicyType) {
			return nil, false
		}
		raw = d.Raw
	case SetDefinitionType:
		d, ok := s.Registry.SetDefinition(id.String())
		if !ok || !isBuiltinType(d.PolicyType) {
			return nil, false
		}
		raw = d.Raw
	default:
		return nil, false
	}
	sum := sha256.Sum256(raw)
	return &posture.Resource{ID: id.String(), Key: id.Key(), Type: typ, Name: id.Name(), Body: compact(raw),
		ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}, true
}

func isBuiltinType(t string) bool {
	return strings.EqualFold(t, "BuiltIn") || strings.EqualFold(t, "Static")
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// GetPolicyObject implements posture.PolicyService.
func (s *Service) GetPolicyObject(ctx context.Context, idText string) (*posture.Resource, error) {
	id, typ, err := parseObjectID(idText)
	if err != nil {
		return nil, err
	}
	if id.Scope().IsRoot() {
		if r, ok := s.builtin(id, typ); ok {
			return r, nil
		}
		return nil, notFound(typ, id)
	}
	var r *posture.Resource
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		r, err = tx.Resource(id.Key())
		if posture.IsNotFound(err) {
			return notFound(typ, id)
		}
		return err
	})
	return r, err
}

// policyError turns the policy engine's errors into posture's, keeping each
// problem (with its JSON path) as a detail.
func policyError(err error) error {
	var pes policy.Errors
	var pe *policy.Error
	switch {
	case errors.As(err, &pes) && len(pes) > 0:
	case errors.As(err, &pe):
		pes = policy.Errors{pe}
	default:
		return posture.Errorf(posture.EINVALID, policy.CodeInvalidPolicyDefinition, "%v", err)
	}
	kind := posture.EINVALID
	if pes[0].Code == policy.CodePolicyDefinitionNotFound {
		kind = posture.ENOTFOUND
	}
	out := &posture.Error{Kind: kind, Code: pes[0].Code, Message: pes[0].Message, Target: pes[0].Path}
	if len(pes) > 1 {
		out.Message = fmt.Sprintf("%s (and %d more problems, see details)", pes[0].Message, len(pes)-1)
		for _, p := range pes {
			out.Details = append(out.Details, &posture.Error{Code: p.Code, Message: p.Message, Target: p.Path})
		}
	}
	return out
}

// PutPolicyObject implements posture.PolicyService.
func (s *Service) PutPolicyObject(ctx context.Context, r *posture.Resource, ifMatch string) (posture.PutResult, error) {
	id, typ, err := parseObjectID(r.ID)
	if err != nil {
		return posture.PutResult{}, err
	}
	scope := id.Scope()
	switch {
	case typ != AssignmentType && scope.Kind() != armid.Subscription && scope.Kind() != armid.ManagementGroup:
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidPolicyDefinitionScope",
			"Policy definitions and set definitions are created at a subscription or a management group; built-in ones are read-only.")
	case typ == AssignmentType && scope.IsRoot():
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidPolicyAssignmentScope",
			"Policy assignments are created at a management group, subscription, resource group or resource.")
	}
	if err := s.WriteMu.Lock(ctx); err != nil {
		return posture.PutResult{}, err
	}
	defer s.WriteMu.Unlock()
	switch typ {
	case DefinitionType:
		return s.putDefinition(ctx, id, r, ifMatch)
	case SetDefinitionType:
		return s.putSet(ctx, id, r, ifMatch)
	}
	return s.putAssignment(ctx, id, r, ifMatch)
}

// withProperty returns body with properties.<name> set to value.
func withProperty(body []byte, name string, value any) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
	}
	props, ok := doc["properties"].(map[string]any)
	if !ok {
		return nil, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content has no 'properties' object.")
	}
	props[name] = value
	return json.Marshal(doc)
}

// write stores an object after the common checks: the scope exists and
// If-Match holds. It returns the previous version, nil when new.
func (s *Service) write(tx posture.Tx, id armid.ID, r *posture.Resource, ifMatch string) (*posture.Resource, error) {
	if err := tx.Lock(r.Key); err != nil {
		return nil, err
	}
	if scope := id.Scope(); !scope.IsRoot() {
		if _, err := tx.Resource(scope.Key()); posture.IsNotFound(err) {
			return nil, scopeNotFound(scope)
		} else if err != nil {
			return nil, err
		}
	}
	old, err := tx.Resource(r.Key)
	if err != nil && !posture.IsNotFound(err) {
		return nil, err
	}
	if ifMatch != "" && (old == nil || ifMatch != "*" && ifMatch != old.ETag) {
		return nil, posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The If-Match condition '%s' does not hold for '%s'.", ifMatch, id)
	}
	now := s.now()
	r.CreatedAt, r.ChangedAt = now, now
	if old != nil {
		r.CreatedAt = old.CreatedAt
	}
	sum := sha256.Sum256(r.Body)
	r.ETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return old, tx.PutResources([]*posture.Resource{r})
}

func scopeNotFound(scope armid.ID) error {
	switch scope.Kind() {
	case armid.Subscription:
		return posture.Errorf(posture.ENOTFOUND, "SubscriptionNotFound", "The subscription '%s' could not be found.", scope.SubscriptionID())
	case armid.ManagementGroup:
		return posture.Errorf(posture.ENOTFOUND, "ManagementGroupNotFound", "The management group '%s' could not be found.", scope.Name())
	case armid.ResourceGroup:
		return posture.Errorf(posture.ENOTFOUND, "ResourceGroupNotFound", "Resource group '%s' could not be found.", scope.ResourceGroup())
	}
	return posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The scope '%s' was not found.", scope)
}

func (s *Service) putDefinition(ctx context.Context, id armid.ID, r *posture.Resource, ifMatch string) (posture.PutResult, error) {
	d, err := policy.ParseDefinition(r.Body)
	if err != nil {
		return posture.PutResult{}, policyError(err)
	}
	if d.PolicyType != "" && !strings.EqualFold(d.PolicyType, "Custom") {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidPolicyType", "The policy type '%s' cannot be created; only 'Custom' definitions are.", d.PolicyType)
	}
	body, err := withProperty(r.Body, "policyType", "Custom")
	if err != nil {
		return posture.PutResult{}, err
	}
	if r, err = armdoc.FromPut(id, body); err != nil {
		return posture.PutResult{}, err
	}
	d.ID, d.Name, d.PolicyType = id.String(), id.Name(), "Custom"
	prev, _ := s.Registry.Definition(id.String())
	return s.replaceCompiled(ctx, id, r, ifMatch, func() { s.Registry.AddDefinition(d) }, func() {
		if prev != nil {
			s.Registry.AddDefinition(prev)
		} else {
			s.Registry.RemoveDefinition(id.String())
		}
	})
}

func (s *Service) putSet(ctx context.Context, id armid.ID, r *posture.Resource, ifMatch string) (posture.PutResult, error) {
	set, err := policy.ParseSetDefinition(r.Body)
	if err != nil {
		return posture.PutResult{}, policyError(err)
	}
	if set.PolicyType != "" && !strings.EqualFold(set.PolicyType, "Custom") {
		return posture.PutResult{}, posture.Errorf(posture.EINVALID, "InvalidPolicyType", "The policy type '%s' cannot be created; only 'Custom' set definitions are.", set.PolicyType)
	}
	if err := s.Registry.ValidateSetDefinition(set); err != nil {
		return posture.PutResult{}, policyError(err)
	}
	body, err := withProperty(r.Body, "policyType", "Custom")
	if err != nil {
		return posture.PutResult{}, err
	}
	if r, err = armdoc.FromPut(id, body); err != nil {
		return posture.PutResult{}, err
	}
	set.ID, set.Name, set.PolicyType = id.String(), id.Name(), "Custom"
	prev, _ := s.Registry.SetDefinition(id.String())
	return s.replaceCompiled(ctx, id, r, ifMatch, func() { s.Registry.AddSetDefinition(set) }, func() {
		if prev != nil {
			s.Registry.AddSetDefinition(prev)
		} else {
			s.Registry.RemoveSetDefinition(id.String())
		}
	})
}

// replaceCompiled stores a definition or initiative and recompiles and
// re-evaluates the assignments that use it. install puts the new version in
// the registry (compilation reads it there); undo restores the old one if
// the transaction fails.
func (s *Service) replaceCompiled(ctx context.Context, id armid.ID, r *posture.Resource, ifMatch string, install, undo func()) (posture.PutResult, error) {
	as, hier, related, kept := s.snapshot()
	install()
	var res posture.PutResult
	recompiled := map[string]*assignment{}
	c := &posture.Change{Put: []*posture.Resource{r}}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		old, err := s.write(tx, id, r, ifMatch)
		if err != nil {
			return err
		}
		res = posture.PutResult{Resource: r, Created: old == nil}
		for _, a := range sortedAssignments(as) {
			if !usesObject(a, id.Key()) {
				continue
			}
			doc, err := tx.Resource(a.key)
			if err != nil {
				return err
			}
			na, err := s.compile(doc)
			if err != nil {
				return posture.Errorf(posture.EINVALID, "InvalidPolicyDefinition", "The change breaks the policy assignment '%s': %v", a.key, err)
			}
			recompiled[na.key] = na
			if err := s.evaluateAssignment(ctx, tx, na, hier, &lookup{tx: tx, base: related, kept: kept}, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		undo()
		return posture.PutResult{}, err
	}
	s.installAssignments(ctx, recompiled, nil)
	s.publish(c)
	return res, nil
}

// usesObject reports whether an assignment uses the definition or
// initiative with key.
func usesObject(a *assignment, key string) bool {
	if strings.EqualFold(a.compiled.Assignment.PolicyDefinitionID, key) {
		return true
	}
	for _, ref := range a.compiled.References {
		if strings.EqualFold(ref.Definition.ID, key) {
			return true
		}
	}
	return false
}

// installAssignments publishes recompiled or new assignments and removes
// deleted ones, then loads the related types they read.
func (s *Service) installAssignments(ctx context.Context, put map[string]*assignment, deleted []string) {
	s.mu.Lock()
	as := make(map[string]*assignment, len(s.assignments)+len(put))
	for k, a := range s.assignments {
		as[k] = a
	}
	for k, a := range put {
		as[k] = a
	}
	for _, k := range deleted {
		delete(as, k)
	}
	s.assignments = as
	s.mu.Unlock()
	if err := s.loadRelated(ctx, relatedTypes(put)); err != nil {
		s.log().Error("loading related documents", "err", err)
	}
}

func (s *Service) putAssignment(ctx context.Context, id armid.ID, r *posture.Resource, ifMatch string) (posture.PutResult, error) {
	pa, err := policy.ParseAssignment(r.Body)
	if err != nil {
		return posture.PutResult{}, policyError(err)
	}
	pa.ID, pa.Name, pa.Scope = id.String(), id.Name(), id.Scope().String()
	ca, err := policy.Compile(pa, s.Registry)
	if err != nil {
		return posture.PutResult{}, policyError(err)
	}
	body, err := withProperty(r.Body, "scope", id.Scope().String())
	if err == nil && pa.EnforcementMode == "" {
		body, err = withProperty(body, "enforcementMode", "Default")
	}
	if err != nil {
		return posture.PutResult{}, err
	}
	if r, err = armdoc.FromPut(id, body); err != nil {
		return posture.PutResult{}, err
	}
	a := newAssignment(id.Key(), id.Scope().Key(), ca)
	_, hier, related, kept := s.snapshot()
	// Related types new to the index are read from the store for this
	// evaluation; installAssignments indexes them afterwards.
	var res posture.PutResult
	c := &posture.Change{Put: []*posture.Resource{r}}
	err = s.Store.Write(ctx, func(tx posture.Tx) error {
		old, err := s.write(tx, id, r, ifMatch)
		if err != nil {
			return err
		}
		res = posture.PutResult{Resource: r, Created: old == nil}
		return s.evaluateAssignment(ctx, tx, a, hier, &lookup{tx: tx, base: related, kept: kept}, c)
	})
	if err != nil {
		return posture.PutResult{}, err
	}
	s.installAssignments(ctx, map[string]*assignment{a.key: a}, nil)
	s.publish(c)
	return res, nil
}

// ensureDefaultAssignment creates the SecurityCenterBuiltIn assignment of
// a new subscription inside the transaction that creates the subscription,
// unless it exists. It returns the compiled assignment and its document when
// it created one.
func (s *Service) ensureDefaultAssignment(tx posture.Tx, sub *posture.Resource, now time.Time) (*assignment, *posture.Resource, error) {
	id := armid.SubscriptionScope(subscriptionName(sub)).Provider("Microsoft.Authorization", "policyAssignments", "SecurityCenterBuiltIn")
	if _, err := tx.Resource(id.Key()); err == nil {
		return nil, nil, nil
	} else if !posture.IsNotFound(err) {
		return nil, nil, err
	}
	body, _ := json.Marshal(map[string]any{
		"properties": map[string]any{
			"displayName":        "ASC Default (subscription: " + subscriptionName(sub) + ")",
			"description":        "The Microsoft cloud security benchmark, assigned by posture to every subscription (as Defender for Cloud assigns it).",
			"policyDefinitionId": policy.MCSBv1ID,
			"scope":              id.Scope().String(),
			"notScopes":          []string{},
			"parameters":         map[string]any{},
			"enforcementMode":    "Default",
			"metadata":           map[string]any{"assignedBy": "posture", "createdOn": now.Format("2006-01-02T15:04:05Z")},
		},
	})
	r, err := armdoc.FromPut(id, body)
	if err != nil {
		return nil, nil, err
	}
	r.CreatedAt, r.ChangedAt = now, now
	sum := sha256.Sum256(r.Body)
	r.ETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	a, err := s.compile(r)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling the default assignment: %w", err)
	}
	return a, r, tx.PutResources([]*posture.Resource{r})
}

// subscriptionName returns the subscription id segment of a subscription
// document, as written in its id.
func subscriptionName(sub *posture.Resource) string {
	id, err := armid.Parse(sub.ID)
	if err != nil {
		return sub.SubscriptionID
	}
	return id.SubscriptionID()
}

// DeletePolicyObject implements posture.PolicyService.
func (s *Service) DeletePolicyObject(ctx context.Context, idText string) (bool, error) {
	id, typ, err := parseObjectID(idText)
	if err != nil {
		return false, err
	}
	if id.Scope().IsRoot() {
		return false, posture.Errorf(posture.EINVALID, "InvalidPolicyDefinitionScope", "Built-in policy objects are read-only.")
	}
	if err := s.WriteMu.Lock(ctx); err != nil {
		return false, err
	}
	defer s.WriteMu.Unlock()
	if typ != AssignmentType {
		if err := s.checkUnused(ctx, id, typ); err != nil {
			return false, err
		}
	}
	var deleted bool
	err = s.Store.Write(ctx, func(tx posture.Tx) error {
		if _, err := tx.Resource(id.Key()); posture.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		deleted = true
		if _, err := tx.DeleteResources(id.Key()); err != nil {
			return err
		}
		if typ == AssignmentType {
			return tx.DeletePolicyStatesOfAssignment(id.Key())
		}
		return nil
	})
	if err != nil || !deleted {
		return deleted, err
	}
	c := &posture.Change{Deleted: []string{id.Key()}}
	switch typ {
	case DefinitionType:
		s.Registry.RemoveDefinition(id.String())
	case SetDefinitionType:
		s.Registry.RemoveSetDefinition(id.String())
	default:
		s.installAssignments(ctx, nil, []string{id.Key()})
		c.AssignmentsDropped = []string{id.Key()}
	}
	s.publish(c)
	return true, nil
}

// checkUnused refuses to delete a definition or initiative that an
// assignment or a custom initiative still uses, as Azure does.
func (s *Service) checkUnused(ctx context.Context, id armid.ID, typ string) error {
	as, _, _, _ := s.snapshot()
	for _, a := range sortedAssignments(as) {
		if strings.EqualFold(a.compiled.Assignment.PolicyDefinitionID, id.String()) {
			code := "InvalidDeletePolicyDefinitionRequest"
			if typ == SetDefinitionType {
				code = "InvalidDeletePolicySetDefinitionRequest"
			}
			return posture.Errorf(posture.EINVALID, code, "The policy %s '%s' cannot be deleted. It is referenced by the policy assignment '%s'. Please delete all policy assignments referencing it.",
				kindWord(typ), id.Name(), a.compiled.Assignment.ID)
		}
	}
	if typ == DefinitionType {
		for _, set := range s.Registry.SetDefinitions() {
			if isBuiltinType(set.PolicyType) {
				continue
			}
			for _, ref := range set.References {
				if strings.EqualFold(ref.DefinitionID, id.String()) {
					return posture.Errorf(posture.EINVALID, "InvalidDeletePolicyDefinitionRequest", "The policy definition '%s' cannot be deleted. It is referenced by the policy set definition '%s'. Please remove this policy definition from all policy set definitions that reference it.", id.Name(), set.ID)
				}
			}
		}
	}
	return nil
}

func kindWord(typ string) string {
	if typ == SetDefinitionType {
		return "set definition"
	}
	return "definition"
}

// ListPolicyObjects implements posture.PolicyService.
func (s *Service) ListPolicyObjects(ctx context.Context, f posture.PolicyObjectFilter) (posture.ResourcePage, error) {
	scope, err := armid.Parse(f.Scope)
	if err != nil {
		return posture.ResourcePage{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	_, hier, _, _ := s.snapshot()
	visible := s.visibleScopes(scope, hier)
	var all []*posture.Resource
	typ := canonicalType(f.Type)
	if typ == "" {
		return posture.ResourcePage{}, posture.Errorf(posture.EINVALID, "InvalidResourceType", "'%s' is not a policy object type.", f.Type)
	}
	if typ != AssignmentType && (f.PolicyType == "" || isBuiltinType(f.PolicyType)) {
		for _, r := range s.builtins(typ, f.PolicyType) {
			all = append(all, r)
		}
	}
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		return eachResource(tx, posture.ResourceFilter{Types: []string{typ}}, func(r *posture.Resource) error {
			id, err := armid.Parse(r.ID)
			if err != nil {
				return nil
			}
			sk := id.Scope().Key()
			switch {
			case f.ExactScope && sk != scope.Key():
				return nil
			case !f.ExactScope && !visible[sk] && !(f.Below && scope.Contains(id.Scope())):
				return nil
			}
			if f.PolicyType != "" && !strings.EqualFold(f.PolicyType, "Custom") {
				return nil
			}
			if f.DefinitionID != "" && !strings.EqualFold(definitionIDOf(r.Body), f.DefinitionID) {
				return nil
			}
			all = append(all, r)
			return nil
		})
	})
	if err != nil {
		return posture.ResourcePage{}, err
	}
	slices.SortFunc(all, func(a, b *posture.Resource) int { return strings.Compare(a.Key, b.Key) })
	start := 0
	if f.After != "" {
		start, _ = slices.BinarySearchFunc(all, f.After, func(r *posture.Resource, k string) int { return strings.Compare(r.Key, k) })
		if start < len(all) && all[start].Key == f.After {
			start++
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	page := posture.ResourcePage{Resources: all[start:min(start+limit, len(all))]}
	if start+limit < len(all) {
		page.Next = page.Resources[len(page.Resources)-1].Key
	}
	return page, nil
}

// visibleScopes returns the scopes whose objects apply at scope: the scope
// and its ancestors, through the management group hierarchy.
func (s *Service) visibleScopes(scope armid.ID, hier *hierarchy) map[string]bool {
	out := map[string]bool{scope.Key(): true, "/": true}
	for _, a := range scope.Ancestors() {
		out[a.Key()] = true
	}
	start := ""
	switch {
	case scope.SubscriptionID() != "":
		start = "/subscriptions/" + strings.ToLower(scope.SubscriptionID())
	case scope.Kind() == armid.ManagementGroup:
		start = scope.Key()
	}
	for p, hops := hier.parent[start], 0; p != "" && hops < 64; p, hops = hier.parent[p], hops+1 {
		out[p] = true
	}
	return out
}

// builtins returns the built-in definitions or initiatives as resources.
func (s *Service) builtins(typ, policyType string) []*posture.Resource {
	var out []*posture.Resource
	add := func(id, pt string) {
		if !isBuiltinType(pt) || policyType != "" && !strings.EqualFold(policyType, pt) {
			return
		}
		pid, err := armid.Parse(id)
		if err != nil {
			return
		}
		if r, ok := s.builtin(pid, typ); ok {
			out = append(out, r)
		}
	}
	if typ == DefinitionType {
		for _, d := range s.Registry.Definitions() {
			add(d.ID, d.PolicyType)
		}
	} else {
		for _, d := range s.Registry.SetDefinitions() {
			add(d.ID, d.PolicyType)
		}
	}
	return out
}

// definitionIDOf reads properties.policyDefinitionId of an assignment.
func definitionIDOf(body []byte) string {
	var doc struct {
		Properties struct {
			PolicyDefinitionID string `json:"policyDefinitionId"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(body, &doc)
	return doc.Properties.PolicyDefinitionID
}

// PolicyStates implements posture.PolicyService.
func (s *Service) PolicyStates(ctx context.Context, f posture.PolicyStateFilter) ([]*posture.ResourceStates, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > 5000 {
		limit = 1000
	}
	f.Limit = limit + 1
	var out []*posture.ResourceStates
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		out, err = tx.PolicyStates(f)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = last.ResourceKey + "\x00" + last.AssignmentKey
	}
	return out, next, nil
}

// registerDefinition adds a stored custom definition to the registry.
func (s *Service) registerDefinition(r *posture.Resource) error {
	d, err := policy.ParseDefinition(r.Body)
	if err != nil {
		s.log().Warn("stored policy definition does not parse; skipped", "definition", r.ID, "err", err)
		return nil
	}
	d.ID, d.Name, d.PolicyType = r.ID, r.Name, "Custom"
	return s.Registry.AddDefinition(d)
}

// registerSet adds a stored custom initiative to the registry.
func (s *Service) registerSet(r *posture.Resource) error {
	set, err := policy.ParseSetDefinition(r.Body)
	if err != nil {
		s.log().Warn("stored policy set definition does not parse; skipped", "setDefinition", r.ID, "err", err)
		return nil
	}
	set.ID, set.Name, set.PolicyType = r.ID, r.Name, "Custom"
	return s.Registry.AddSetDefinition(set)
}

// InitiativeOf returns the initiative an assignment assigns, "" for an
// unknown assignment or one of a single definition.
func (s *Service) InitiativeOf(assignmentKey string) string {
	s.mu.RLock()
	a := s.assignments[assignmentKey]
	s.mu.RUnlock()
	if a == nil || a.compiled.SetDefinition == nil {
		return ""
	}
	return a.compiled.SetDefinition.ID
}

// DefinitionOf returns the definition behind an assignment's reference, and
// the initiative when the assignment is of one; "" for unknown ones.
func (s *Service) DefinitionOf(assignmentKey, referenceID string) (definitionID, setDefinitionID string) {
	s.mu.RLock()
	a := s.assignments[assignmentKey]
	s.mu.RUnlock()
	if a == nil {
		return "", ""
	}
	if a.compiled.SetDefinition != nil {
		setDefinitionID = a.compiled.SetDefinition.ID
	}
	for _, ref := range a.compiled.References {
		if strings.EqualFold(ref.ReferenceID, referenceID) {
			return ref.Definition.ID, setDefinitionID
		}
	}
	return "", setDefinitionID
}
