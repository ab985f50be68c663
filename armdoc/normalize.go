package armdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

var (
	errNotObject = errors.New("the document is not a JSON object")
	errTrailing  = errors.New("unexpected data after the JSON object")
)

// MaxDocument bounds one document's size.
const MaxDocument = 4 << 20

func invalid(code, format string, args ...any) *posture.Error {
	return posture.Errorf(posture.EINVALID, code, format, args...)
}

func badJSON(err error) *posture.Error {
	return invalid("InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
}

// Normalize turns one ARM document, as ARM GET returns it or as Resource
// Graph returns it, into a Resource. The id must parse and the type, when the
// document has one, must match the id. Resource Graph's extra columns
// (resourceGroup, subscriptionId, tenantId) and its nulls are dropped so that
// the stored document has ARM's shape. Timestamps and ETag are left to the
// service.
func Normalize(raw []byte) (*posture.Resource, error) {
	if len(raw) > MaxDocument {
		return nil, invalid("RequestTooLarge", "The document is larger than %d bytes.", MaxDocument)
	}
	o, compact, err := parseObject(raw)
	if err != nil {
		return nil, badJSON(err)
	}
	idText := o.getString("id")
	if idText == "" {
		return nil, invalid("MissingResourceId", "The document has no 'id'.")
	}
	id, err := armid.Parse(idText)
	if err != nil {
		return nil, invalid("InvalidResourceId", "%v.", err)
	}
	if id.Kind() == armid.Tenant {
		return nil, invalid("InvalidResourceId", "The tenant root '/' is not a resource.")
	}
	if id.Kind() == armid.Resource && id.SubscriptionID() == "" {
		return nil, invalid("InvalidResourceId", "The resource '%s' is not in a subscription: only management groups, subscriptions and what is in them belong to the estate.", id)
	}
	r, rewrite, err := build(id, &o)
	if err != nil {
		return nil, err
	}
	if !rewrite && compact && idText == r.ID {
		r.Body = raw // already in ARM's shape: keep the bytes as they came
	} else {
		r.Body = o.front("id", "name", "type", "kind", "location").marshal()
	}
	return r, nil
}

// FromPut builds the resource for an ARM PUT of body at id. The document
// takes its id, name and type from the path; an id or type in the body that
// names something else is an error.
func FromPut(id armid.ID, body []byte) (*posture.Resource, error) {
	o, _, err := parseObject(body)
	if err != nil {
		return nil, badJSON(err)
	}
	if s := o.getString("id"); s != "" {
		bid, err := armid.Parse(s)
		if err != nil || !bid.Equal(id) {
			return nil, invalid("LinkedInvalidPropertyId", "Property id '%s' at path 'id' is invalid. Expect the id of the resource in the request path, '%s'.", s, id)
		}
	}
	o.del("id")
	o.del("name")
	r, _, err := build(id, &o)
	if err != nil {
		return nil, err
	}
	r.Body = o.front("id", "name", "type", "kind", "location").marshal()
	return r, nil
}

// build fills in and checks what every document needs, in o, and derives
// the columns. It reports whether o changed in a way that matters: a
// document already in ARM's shape can keep its own bytes. The caller sets
// Body.
func build(id armid.ID, o *object) (*posture.Resource, bool, error) {
	docType := o.getString("type")
	typ, err := checkType(id, docType)
	if err != nil {
		return nil, false, err
	}
	r := &posture.Resource{
		ID:             id.String(),
		Key:            id.Key(),
		Type:           typ,
		Name:           id.Name(),
		Kind:           o.getString("kind"),
		Location:       NormalizeLocation(o.getString("location")),
		SubscriptionID: strings.ToLower(id.SubscriptionID()),
		ResourceGroup:  strings.ToLower(id.ResourceGroup()),
	}
	if raw := o.get("tags"); !isNull(raw) {
		if err := json.Unmarshal(raw, &r.Tags); err != nil {
			return nil, false, invalid("InvalidTag", "The tags of '%s' must be an object of string values.", id)
		}
	}
	if name := o.getString("name"); name != "" && id.Kind() != armid.Subscription &&
		!strings.EqualFold(name, id.Name()) && !strings.EqualFold(name, id.FullName()) {
		return nil, false, invalid("InvalidResourceName", "The name '%s' in the document does not match the name '%s' of its id '%s'.", name, id.Name(), id)
	}
	rewrite := o.getString("name") != id.Name() || docType != typ
	rewrite = dropGraphColumns(id, o) || rewrite
	switch id.Kind() {
	case armid.ManagementGroup:
		r.ParentKey = managementGroupParent(*o)
	case armid.Subscription:
		r.ParentKey = subscriptionParent(o)
		if o.getString("subscriptionId") == "" {
			o.set("subscriptionId", id.SubscriptionID())
		}
		// Resource Graph names a subscription by its display name.
		if o.getString("displayName") == "" {
			if n := o.getString("name"); n != "" {
				o.set("displayName", n)
			}
		}
		o.delFold("name")
		o.delFold("type")
		rewrite = true
	default:
		r.ParentKey = id.Parent().Key()
		r.Tracked = id.Kind() == armid.Resource && !id.IsChild() && id.Scope().Kind() == armid.ResourceGroup
	}
	// The id decides id, name and type; another spelling of one of them
	// (read above, as ARM reads names) goes.
	rewrite = o.setFold("id", id.String()) || rewrite
	if id.Kind() != armid.Subscription {
		rewrite = o.setFold("name", id.Name()) || rewrite
		rewrite = o.setFold("type", typ) || rewrite
	}
	return r, rewrite, nil
}

// checkType returns the type to keep: the document's spelling when it has
// one (ARM GET casing, e.g. "Microsoft.ContainerService/ManagedClusters"),
// the id's when the document has none or Resource Graph's lower-case one.
func checkType(id armid.ID, docType string) (string, error) {
	want := id.Type()
	if docType == "" {
		return want, nil
	}
	ok := strings.EqualFold(docType, want)
	// Resource Graph spells resource groups as a child of subscriptions.
	if !ok && id.Kind() == armid.ResourceGroup && strings.EqualFold(docType, "microsoft.resources/subscriptions/resourcegroups") {
		return want, nil
	}
	if !ok {
		return "", invalid("InvalidResourceType", "The resource type '%s' of the document does not match the type '%s' of its id '%s'.", docType, want, id)
	}
	if docType == strings.ToLower(docType) {
		return want, nil
	}
	return docType, nil
}

// dropGraphColumns removes what Resource Graph adds to every row but ARM does
// not put in a document, and the nulls and empty strings it fills columns
// with. It reports whether it removed anything.
func dropGraphColumns(id armid.ID, o *object) bool {
	out := (*o)[:0]
	for _, f := range *o {
		switch {
		case f.key == "resourceGroup":
		case (f.key == "subscriptionId" || f.key == "tenantId") && id.Kind() != armid.Subscription:
		case isNull(f.raw):
		case (f.key == "kind" || f.key == "managedBy") && string(f.raw) == `""`:
		default:
			out = append(out, f)
		}
	}
	dropped := len(out) != len(*o)
	*o = out
	return dropped
}

func managementGroupParent(o object) string {
	var props struct {
		Details struct {
			Parent struct {
				ID string `json:"id"`
			} `json:"parent"`
		} `json:"details"`
	}
	if raw := o.get("properties"); raw != nil {
		_ = json.Unmarshal(raw, &props)
	}
	if p, err := armid.Parse(props.Details.Parent.ID); err == nil && p.Kind() == armid.ManagementGroup {
		return p.Key()
	}
	return ""
}

// subscriptionParent reads Resource Graph's managementGroupAncestorsChain
// (nearest first) or posture's "managementGroupId" extension.
func subscriptionParent(o *object) string {
	if mg := o.getString("managementGroupId"); mg != "" {
		o.del("managementGroupId")
		// A name, or a management group's id.
		if p, err := armid.Parse(mg); err == nil && p.Kind() == armid.ManagementGroup {
			return p.Key()
		}
		if p, err := armid.Parse("/providers/Microsoft.Management/managementGroups/" + mg); err == nil && p.Kind() == armid.ManagementGroup {
			return p.Key()
		}
		return "" // neither: the document keeps the default parent
	}
	var props struct {
		Chain []struct {
			Name string `json:"name"`
		} `json:"managementGroupAncestorsChain"`
	}
	if raw := o.get("properties"); raw != nil {
		_ = json.Unmarshal(raw, &props)
	}
	if len(props.Chain) > 0 && props.Chain[0].Name != "" && !strings.Contains(props.Chain[0].Name, "/") {
		return armid.ManagementGroupScope(props.Chain[0].Name).Key()
	}
	return ""
}

// NormalizeLocation returns the form Azure Policy and Resource Graph compare
// locations in: lower case without spaces ("West US 2" -> "westus2").
func NormalizeLocation(loc string) string {
	if loc == "" {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(loc, " ", ""))
}

// Describe returns a short description of a document for error messages:
// its id when it has one, else its start.
func Describe(raw []byte) string {
	var probe struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.ID != "" {
		return probe.ID
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 60 {
		return fmt.Sprintf("%s…", raw[:60])
	}
	return string(raw)
}
