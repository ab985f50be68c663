package policy

import (
	"fmt"
	"strings"
	"sync"
)

// Resource is one ARM resource document prepared for evaluation. Build it
// once per document with NewResource and reuse it for every definition and
// assignment: evaluation never re-decodes JSON and never changes a Resource.
//
// Only Document and ID are needed; NewResource fills the rest from the
// document and its id. A caller that knows better (for example the resource
// group's real tags, or whether the type supports tags and location) sets the
// exported fields after NewResource.
type Resource struct {
	ID       string // ARM id as written
	Name     string // last name segment
	FullName string // name segments after the provider namespace joined by "/", e.g. "server1/db1"
	Type     string // ARM type as the document spells it; derived from the id when the document has none
	Kind     string
	Location string // as written, e.g. "West US"; compared in normalised form

	SubscriptionID string
	ResourceGroup  string // "" for subscription-level and tenant-level resources

	Tags     map[string]any // the document's tags (may be nil)
	Document map[string]any // the decoded ARM GET body

	// ResourceGroupInfo is what resourceGroup() returns (id, name, type,
	// location, managedBy, tags, properties). When nil, a minimal object is
	// derived from the id; managedBy is then null.
	ResourceGroupInfo map[string]any
	// SubscriptionInfo is what subscription() returns (id, subscriptionId,
	// tenantId, displayName). When nil it is derived from the id.
	SubscriptionInfo map[string]any

	// SupportsTagsAndLocation decides whether mode "Indexed" definitions apply
	// to the resource. When nil the engine decides from the document: a
	// resource applies when it has a location and is neither a subscription
	// nor a resource group (see docs/policy-semantics.md).
	SupportsTagsAndLocation *bool

	typeKey     string // lower-case Type
	idKey       string // lower-case ID
	parentKey   string // lower-case id of the parent or of the extended resource
	locationKey string // normalised location ("global" when none)

	rgOnce sync.Once
	rgObj  map[string]any // derived resourceGroup() object
}

// NewResource prepares doc (an ARM GET body decoded into map[string]any) for
// evaluation. It returns an error when the document has no usable id.
func NewResource(doc map[string]any) (*Resource, error) {
	id := getString(doc, "id")
	if id == "" {
		return nil, fmt.Errorf("policy: resource document has no id")
	}
	r := &Resource{ID: id, Document: doc}
	a := parseARMID(id)
	r.Name = getString(doc, "name")
	if r.Name == "" || strings.Contains(r.Name, "/") {
		// Child resources sometimes carry "parent/child" in name; Azure
		// Policy's name field is the last segment.
		r.Name = a.name()
	}
	r.FullName = a.fullName()
	r.Type = getString(doc, "type")
	if r.Type == "" {
		// Some GET bodies (subnets) carry no type; the id has it.
		r.Type = a.fullType()
	}
	r.Kind = getString(doc, "kind")
	r.Location = getString(doc, "location")
	r.SubscriptionID = a.subscription
	r.ResourceGroup = a.resourceGroup
	if t, ok := getKey(doc, "tags"); ok {
		r.Tags, _ = t.(map[string]any)
	}
	r.parentKey = idKey(a.parent)
	r.prepare()
	return r, nil
}

// NewResourceJSON decodes data and calls NewResource.
func NewResourceJSON(data []byte) (*Resource, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("policy: resource document: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy: resource document is a JSON %s, not an object", typeName(v))
	}
	return NewResource(doc)
}

// prepare computes the derived comparison keys. It is idempotent, so callers
// that change exported fields can call Refresh.
func (r *Resource) prepare() {
	r.typeKey = strings.ToLower(r.Type)
	r.idKey = idKey(r.ID)
	if r.parentKey == "" {
		r.parentKey = idKey(parseARMID(r.ID).parent)
	}
	r.locationKey = normalizeLocation(r.Location)
	if r.locationKey == "" {
		// Azure Policy reports "global" for location-agnostic resources.
		r.locationKey = "global"
	}
}

// Refresh recomputes the derived keys after a caller changed ID, Type or
// Location.
func (r *Resource) Refresh() {
	r.parentKey = ""
	r.prepare()
}

// TypeKey returns the lower-case resource type used for indexing.
func (r *Resource) TypeKey() string { return r.typeKey }

// isSubscriptionOrGroup reports whether the resource is a subscription or a
// resource group.
func (r *Resource) isSubscriptionOrGroup() bool {
	return r.typeKey == "microsoft.resources/subscriptions" ||
		r.typeKey == "microsoft.resources/subscriptions/resourcegroups" ||
		r.typeKey == "microsoft.resources/resourcegroups"
}

// indexedApplicable decides whether a mode "Indexed" definition applies.
func (r *Resource) indexedApplicable() bool {
	if r.SupportsTagsAndLocation != nil {
		return *r.SupportsTagsAndLocation
	}
	if r.isSubscriptionOrGroup() {
		return false
	}
	return normalizeLocation(r.Location) != ""
}

// resourceGroupObject is the value of resourceGroup().
func (r *Resource) resourceGroupObject() (map[string]any, error) {
	if r.ResourceGroupInfo != nil {
		return r.ResourceGroupInfo, nil
	}
	if r.ResourceGroup == "" {
		return nil, evalErrorf("resourceGroup() is not available: resource %q is not in a resource group", r.ID)
	}
	// Built once per resource: rules call it for every SQL server and
	// storage account, and the object is never modified.
	r.rgOnce.Do(func() { r.rgObj = r.deriveResourceGroupObject() })
	return r.rgObj, nil
}

func (r *Resource) deriveResourceGroupObject() map[string]any {
	return map[string]any{
		"id":         "/subscriptions/" + r.SubscriptionID + "/resourceGroups/" + r.ResourceGroup,
		"name":       r.ResourceGroup,
		"type":       "Microsoft.Resources/resourceGroups",
		"location":   r.Location,
		"managedBy":  nil,
		"tags":       map[string]any{},
		"properties": map[string]any{"provisioningState": "Succeeded"},
	}
}

// subscriptionObject is the value of subscription().
func (r *Resource) subscriptionObject() (map[string]any, error) {
	if r.SubscriptionInfo != nil {
		return r.SubscriptionInfo, nil
	}
	if r.SubscriptionID == "" {
		return nil, evalErrorf("subscription() is not available: resource %q is not in a subscription", r.ID)
	}
	return map[string]any{
		"id":             "/subscriptions/" + r.SubscriptionID,
		"subscriptionId": r.SubscriptionID,
		"tenantId":       "",
		"displayName":    r.SubscriptionID,
	}, nil
}
