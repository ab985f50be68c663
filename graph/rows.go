package graph

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
)

// Tables of the Resource Graph, as ARG names them.
const (
	Resources              = "Resources"
	ResourceContainers     = "ResourceContainers"
	SecurityResources      = "SecurityResources"
	PolicyResources        = "PolicyResources"
	AuthorizationResources = "AuthorizationResources"
)

// Tables lists every table, for creating them empty.
var Tables = []string{Resources, ResourceContainers, SecurityResources, PolicyResources, AuthorizationResources}

const exemptionTypeKey = "microsoft.authorization/policyexemptions"

// tableOf says which table a document of a type goes to.
func tableOf(typeKey string) string {
	switch {
	case typeKey == "microsoft.resources/subscriptions", typeKey == "microsoft.resources/resourcegroups",
		typeKey == "microsoft.management/managementgroups":
		return ResourceContainers
	case strings.HasPrefix(typeKey, "microsoft.security/"):
		return SecurityResources
	case strings.HasPrefix(typeKey, "microsoft.authorization/policy"), strings.HasPrefix(typeKey, "microsoft.policyinsights/"):
		return PolicyResources
	case strings.HasPrefix(typeKey, "microsoft.authorization/role"):
		return AuthorizationResources
	}
	return Resources
}

// mgInfo is what a subscription's row needs to know of a management group.
type mgInfo struct {
	name, displayName, parent string
}

// rowWriter writes a JSON object field by field, in ARG's column order.
type rowWriter struct {
	b       bytes.Buffer
	first   bool
	scratch []byte // str's encoding, reused
}

func newRow() *rowWriter {
	w := &rowWriter{first: true}
	w.b.WriteByte('{')
	return w
}

func (w *rowWriter) raw(key string, v []byte) {
	if !w.first {
		w.b.WriteByte(',')
	}
	w.first = false
	w.b.WriteByte('"')
	w.b.WriteString(key)
	w.b.WriteString(`":`)
	if len(v) == 0 {
		w.b.WriteString("null")
	} else {
		w.b.Write(v)
	}
}

func (w *rowWriter) str(key, v string) {
	w.scratch = appendString(w.scratch[:0], v)
	w.raw(key, w.scratch)
}

func (w *rowWriter) done() []byte {
	w.b.WriteByte('}')
	return w.b.Bytes()
}

// resourceRow returns the table and ARG row of a stored document: ARG's
// columns, the type in lower case, the location normalised, the resource
// group and subscription read from the id, and tenantId.
func (g *Service) resourceRow(r *posture.Resource) (string, []byte) {
	body := r.Body
	if r.TypeKey() == exemptionTypeKey {
		body = exemption.WithStatus(body, g.now()) // whether it is in force, as the API shows
	}
	doc, ok := topFields(body)
	if !ok {
		_ = json.Unmarshal(body, &doc) // stored documents are JSON objects
	}
	id, _ := armid.Parse(r.ID)
	typeKey := r.TypeKey()
	table := tableOf(typeKey)
	w := newRow()
	w.str("id", r.ID)
	name := r.Name
	argType := typeKey
	switch typeKey {
	case "microsoft.resources/subscriptions":
		if dn := stringField(doc["displayName"]); dn != "" {
			name = dn // Resource Graph names subscriptions by their display name
		}
	case "microsoft.resources/resourcegroups":
		argType = "microsoft.resources/subscriptions/resourcegroups"
	}
	w.str("name", name)
	w.str("type", argType)
	w.str("tenantId", g.TenantID)
	w.str("kind", stringField(doc["kind"]))
	w.str("location", r.Location)
	w.str("resourceGroup", id.ResourceGroup())
	w.str("subscriptionId", id.SubscriptionID())
	w.str("managedBy", stringField(doc["managedBy"]))
	w.raw("sku", doc["sku"])
	w.raw("plan", doc["plan"])
	switch typeKey {
	case "microsoft.resources/subscriptions":
		w.raw("properties", g.subscriptionProperties(r, doc))
	case "microsoft.management/managementgroups":
		w.raw("properties", g.groupProperties(r, doc))
	default:
		props := doc["properties"]
		if len(props) == 0 {
			props = []byte("{}")
		}
		w.raw("properties", props)
	}
	tags := doc["tags"]
	if len(tags) == 0 || string(tags) == "null" {
		tags = []byte("{}")
	}
	w.raw("tags", tags)
	w.raw("identity", doc["identity"])
	w.raw("zones", doc["zones"])
	w.raw("extendedLocation", doc["extendedLocation"])
	// Resource Graph records the api-version it read a resource with;
	// posture keeps documents whatever version wrote them.
	w.raw("apiVersion", nil)
	return table, w.done()
}

func stringField(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// chain returns managementGroupAncestorsChain from the group key up,
// nearest first.
func (g *Service) chain(key string) []map[string]string {
	var out []map[string]string
	for hops := 0; key != "" && hops < 64; hops++ {
		mg, ok := g.mgs[key]
		if !ok {
			break
		}
		out = append(out, map[string]string{"name": mg.name, "displayName": mg.displayName})
		key = mg.parent
	}
	return out
}

func (g *Service) subscriptionProperties(r *posture.Resource, doc map[string]json.RawMessage) []byte {
	props := map[string]any{
		"state":                         stringField(doc["state"]),
		"managementGroupAncestorsChain": g.chain(r.ParentKey),
	}
	if p := doc["subscriptionPolicies"]; len(p) > 0 {
		props["subscriptionPolicies"] = p
	}
	b, _ := json.Marshal(props)
	return b
}

func (g *Service) groupProperties(r *posture.Resource, doc map[string]json.RawMessage) []byte {
	props := map[string]any{}
	_ = json.Unmarshal(doc["properties"], &props)
	props["managementGroupAncestorsChain"] = g.chain(r.ParentKey)
	b, _ := json.Marshal(props)
	return b
}

// stateID is the row id of one policy state: under the resource, so that
// deleting a resource's subtree deletes its states, and derived from the
// assignment and reference so that it can be found again.
func stateID(resourceKey, assignmentKey, referenceID string) string {
	h := fnv.New64a()
	h.Write([]byte(assignmentKey))
	h.Write([]byte{0})
	h.Write([]byte(referenceID))
	return resourceKey + "/providers/microsoft.policyinsights/policystates/" + strconv.FormatUint(h.Sum64(), 16)
}

// stateRow returns the PolicyResources row of one policy state, with the
// properties of Microsoft.PolicyInsights' policy state records. It writes
// the JSON by hand: a full load builds one per (resource, definition) pair.
func (g *Service) stateRow(row *posture.ResourceStates, st posture.PolicyState) []byte {
	sub, rg := idParts(row.ResourceKey)
	a := g.assignmentInfo(row.AssignmentKey)
	defID, setID := "", ""
	if g.Definitions != nil {
		defID, setID = g.Definitions(row.AssignmentKey, st.ReferenceID)
	}
	id := stateID(row.ResourceKey, row.AssignmentKey, st.ReferenceID)
	b := make([]byte, 0, 1200)
	field := func(key, value string) {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		b = appendString(b, value)
		b = append(b, ',')
	}
	b = append(b, '{')
	field("id", id)
	field("name", id[strings.LastIndex(id, "/")+1:])
	field("type", "microsoft.policyinsights/policystates")
	field("tenantId", g.TenantID)
	field("kind", "")
	field("location", "")
	field("resourceGroup", rg)
	field("subscriptionId", sub)
	field("managedBy", "")
	b = append(b, `"sku":null,"plan":null,"properties":{`...)
	state := st.Effective(g.now())
	field("complianceState", state)
	field("resourceId", row.ResourceKey)
	field("resourceType", row.ResourceType)
	field("resourceGroup", rg)
	field("subscriptionId", row.SubscriptionID)
	field("policyAssignmentId", row.AssignmentKey)
	field("policyAssignmentName", a.name)
	field("policyAssignmentScope", a.scope)
	field("policyDefinitionId", strings.ToLower(defID))
	field("policySetDefinitionId", strings.ToLower(setID))
	field("policyDefinitionReferenceId", strings.ToLower(st.ReferenceID))
	field("policyDefinitionAction", strings.ToLower(st.Effect))
	if st.Error != "" {
		field("evaluationError", st.Error)
	}
	field("timestamp", st.ChangedAt.UTC().Format(time.RFC3339Nano))
	field("firstEvaluated", st.FirstEvaluated.UTC().Format(time.RFC3339Nano))
	b = append(b, `"isCompliant":`...)
	b = strconv.AppendBool(b, state == posture.StateCompliant)
	b = append(b, `},"tags":{},"identity":null,"zones":null,"extendedLocation":null,"apiVersion":null}`...)
	return b
}

// idParts returns the subscription and resource group segments of a
// lower-case resource key.
func idParts(key string) (sub, rg string) {
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	if !ok {
		return "", ""
	}
	sub, rest, _ = strings.Cut(rest, "/")
	if rest, ok = strings.CutPrefix(rest, "resourcegroups/"); ok {
		rg, _, _ = strings.Cut(rest, "/")
	}
	return sub, rg
}

// assignment is what a state row shows of its assignment.
type assignmentRef struct{ name, scope string }

func (g *Service) assignmentInfo(key string) assignmentRef {
	if a, ok := g.assignments.Load(key); ok {
		return a.(assignmentRef)
	}
	id, _ := armid.Parse(key)
	a := assignmentRef{name: id.Name(), scope: id.Scope().Key()}
	g.assignments.Store(key, a)
	return a
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
