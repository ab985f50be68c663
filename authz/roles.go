package authz

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Role types, as properties.type of a role definition.
const (
	BuiltInRole = "BuiltInRole"
	CustomRole  = "CustomRole"
)

// RoleDefinitionType is the ARM type of role definitions.
const RoleDefinitionType = "Microsoft.Authorization/roleDefinitions"

// Built-in role definition GUIDs. They are the same in every Azure tenant and
// cloud; see SOURCE.md for where each definition comes from.
const (
	RoleOwner                         = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	RoleContributor                   = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	RoleReader                        = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	RoleUserAccessAdministrator       = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RoleRBACAdministrator             = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	RoleSecurityAdmin                 = "fb1c8493-542b-48eb-b624-b4c8fea62acd"
	RoleSecurityReader                = "39bc4728-0917-49c7-9d2c-d95423bc2eb4"
	RoleSecurityAssessmentContributor = "612c2aa1-cb24-443b-ac28-3ab7272de6f5"
	RoleResourcePolicyContributor     = "36243c78-bf99-498c-9df9-86d9f8d28608"
	RolePolicyInsightsDataWriter      = "66bb4e9e-b016-4a94-8249-4c0511c2be84"
)

// Permission is one block of a role definition's permissions.
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// RoleDefinitionProperties is the properties object of a role definition.
type RoleDefinitionProperties struct {
	RoleName         string       `json:"roleName"`
	Description      string       `json:"description"`
	RoleType         string       `json:"type"` // BuiltInRole or CustomRole
	Permissions      []Permission `json:"permissions"`
	AssignableScopes []string     `json:"assignableScopes"`
	CreatedOn        *time.Time   `json:"createdOn"`
	UpdatedOn        *time.Time   `json:"updatedOn"`
	CreatedBy        *string      `json:"createdBy"`
	UpdatedBy        *string      `json:"updatedBy"`
}

// RoleDefinition is a role definition in ARM's shape: marshalled with
// encoding/json it is the body Azure returns for
// GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}.
type RoleDefinition struct {
	ID         string                   `json:"id"`   // {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}
	Name       string                   `json:"name"` // the GUID
	Type       string                   `json:"type"` // Microsoft.Authorization/roleDefinitions
	Properties RoleDefinitionProperties `json:"properties"`
}

// GUID returns the lower-case GUID that identifies the role tenant-wide.
func (d *RoleDefinition) GUID() string {
	if d.Name != "" {
		return strings.ToLower(d.Name)
	}
	return RoleDefinitionGUID(d.ID)
}

// IsBuiltIn reports whether d is a built-in role.
func (d *RoleDefinition) IsBuiltIn() bool { return d.Properties.RoleType == BuiltInRole }

// Allows reports whether the role grants the control-plane action anywhere
// it is assigned. It compiles the role on each call; the Authorizer keeps
// compiled roles.
func (d *RoleDefinition) Allows(action string) bool { return compileRole(d).allows(action, false) }

// AllowsData is Allows for a data action.
func (d *RoleDefinition) AllowsData(action string) bool { return compileRole(d).allows(action, true) }

// clone returns a deep copy, so that callers cannot change shared
// definitions through the slices.
func (d RoleDefinition) clone() RoleDefinition {
	p := &d.Properties
	perms := make([]Permission, len(p.Permissions))
	for i, b := range p.Permissions {
		perms[i] = Permission{
			Actions:        cloneStrings(b.Actions),
			NotActions:     cloneStrings(b.NotActions),
			DataActions:    cloneStrings(b.DataActions),
			NotDataActions: cloneStrings(b.NotDataActions),
		}
	}
	p.Permissions = perms
	p.AssignableScopes = cloneStrings(p.AssignableScopes)
	return d
}

// cloneStrings copies ss, turning nil into an empty slice so that the JSON
// shape has [] where Azure has [].
func cloneStrings(ss []string) []string {
	return append(make([]string, 0, len(ss)), ss...)
}

// RoleDefinitionGUID returns the lower-case GUID at the end of a role
// definition id ("/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
// or "/providers/Microsoft.Authorization/roleDefinitions/{guid}"); a bare
// GUID is returned as is, lower-cased. Role definition GUIDs are unique in
// a tenant, so the GUID alone identifies the role whatever scope prefixes it.
func RoleDefinitionGUID(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	return strings.ToLower(id)
}

// RoleDefinitionID returns the tenant-level id of a role definition GUID,
// the form Azure uses for built-in roles.
func RoleDefinitionID(guid string) string {
	return "/providers/" + RoleDefinitionType + "/" + guid
}

//go:embed builtin_roles.json
var builtinJSON []byte

// builtins holds the built-in roles by lower-case GUID, in file order.
var builtins, builtinOrder = loadBuiltins()

func loadBuiltins() (map[string]*compiledRole, []string) {
	var defs []RoleDefinition
	if err := json.Unmarshal(builtinJSON, &defs); err != nil {
		panic(fmt.Sprintf("authz: builtin_roles.json: %v", err))
	}
	byGUID := make(map[string]*compiledRole, len(defs))
	order := make([]string, 0, len(defs))
	for _, d := range defs {
		d = d.clone()
		guid := d.GUID()
		if d.Properties.RoleType != BuiltInRole || RoleDefinitionGUID(d.ID) != guid || byGUID[guid] != nil {
			panic(fmt.Sprintf("authz: builtin_roles.json: bad entry %q", d.ID))
		}
		byGUID[guid] = compileRole(&d)
		order = append(order, guid)
	}
	return byGUID, order
}

// BuiltinRoles returns Azure's built-in role definitions that posture ships,
// in a stable order. The result is a copy.
func BuiltinRoles() []RoleDefinition {
	out := make([]RoleDefinition, len(builtinOrder))
	for i, guid := range builtinOrder {
		out[i] = builtins[guid].def.clone()
	}
	return out
}

// BuiltinRole returns the built-in role with the given GUID or role
// definition id.
func BuiltinRole(idOrGUID string) (RoleDefinition, bool) {
	r := builtins[RoleDefinitionGUID(idOrGUID)]
	if r == nil {
		return RoleDefinition{}, false
	}
	return r.def.clone(), true
}

// compiledRole is a role definition with its patterns compiled.
type compiledRole struct {
	def    RoleDefinition
	guid   string
	blocks []permissionBlock
	// hasData marks roles with data actions: Azure refuses to assign such a
	// custom role at a management group.
	hasData bool
}

func compileRole(d *RoleDefinition) *compiledRole {
	r := &compiledRole{def: *d, guid: d.GUID()}
	for _, p := range d.Properties.Permissions {
		r.blocks = append(r.blocks, compileBlock(p))
		if len(p.DataActions) > 0 {
			r.hasData = true
		}
	}
	return r
}

// allows reports whether some block grants every action the (possibly
// wildcarded) action stands for.
func (r *compiledRole) allows(action string, data bool) bool {
	return r.grants(compilePattern(action), data)
}

func (r *compiledRole) grants(w pattern, data bool) bool {
	for i := range r.blocks {
		if r.blocks[i].grants(w, data) {
			return true
		}
	}
	return false
}
