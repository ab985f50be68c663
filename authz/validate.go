package authz

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// Limits on custom roles, from azure-docs custom-roles.md ("Custom role
// properties" and "Custom role limits").
const (
	maxRoleNameLen         = 512
	maxDescriptionLen      = 2048
	maxAssignableScopes    = 2000
	maxActionLen           = 1024 // ours: a bound on input, far above any real action
	maxActionsPerBlockList = 5000 // ours, likewise
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// namespaceRE is a resource provider namespace such as "Microsoft.Compute",
// "Microsoft.operationalInsights" or "NewRelic.APM".
var namespaceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$`)

// wildNamespaceRE admits a namespace segment with a wildcard in it ("*",
// "Microsoft.*"): the wildcard may stand for any namespace.
var wildNamespaceRE = regexp.MustCompile(`^[A-Za-z0-9_.*-]+$`)

// ParseRoleDefinition reads the body of
// PUT {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid} (or
// the GET shape) for the role definition id in the path, and validates it as
// a custom role. The body may leave out id, name and type; if it names them
// they must match the path. properties.type may be left out.
func ParseRoleDefinition(pathID string, body []byte) (RoleDefinition, error) {
	var d RoleDefinition
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&d); err != nil {
		return RoleDefinition{}, &posture.Error{Kind: posture.EINVALID, Code: CodeInvalidRequestContent, Message: "The request content is not a valid role definition JSON object.", Err: err}
	}
	if dec.More() {
		return RoleDefinition{}, posture.Errorf(posture.EINVALID, CodeInvalidRequestContent, "The request content has data after the role definition object.")
	}
	id, err := armid.Parse(pathID)
	if err != nil {
		return RoleDefinition{}, invalidf(CodeInvalidRoleDefinition, "id", "The role definition id '%s' is not valid: %v.", pathID, err)
	}
	if d.ID != "" && !strings.EqualFold(d.ID, id.String()) {
		return RoleDefinition{}, invalidf(CodeInvalidRoleDefinition, "id", "The body names the role definition '%s', not '%s'.", d.ID, id.String())
	}
	if d.Name != "" && !strings.EqualFold(d.Name, id.Name()) {
		return RoleDefinition{}, invalidf(CodeInvalidRoleDefinition, "name", "The body names the role definition '%s', not '%s'.", d.Name, id.Name())
	}
	if d.Type != "" && !strings.EqualFold(d.Type, RoleDefinitionType) {
		return RoleDefinition{}, invalidf(CodeInvalidRoleDefinition, "type", "The type '%s' is not %s.", d.Type, RoleDefinitionType)
	}
	d.ID, d.Name, d.Type = id.String(), id.Name(), RoleDefinitionType
	if d.Properties.RoleType == "" {
		d.Properties.RoleType = CustomRole
	}
	d = d.clone() // [] rather than null for lists left out
	if err := d.Validate(); err != nil {
		return RoleDefinition{}, err
	}
	return d, nil
}

// Validate checks a custom role against Azure's rules: a GUID name matching
// the id, a name and description within Azure's lengths, at least one
// action or data action, well-formed action strings with at most one
// wildcard, and assignable scopes that are management groups, subscriptions,
// resource groups or resources, never the root, never a wildcard, and at
// most one management group.
func (d *RoleDefinition) Validate() error {
	id, err := armid.Parse(d.ID)
	if err != nil || !strings.EqualFold(id.Type(), RoleDefinitionType) {
		return invalidf(CodeInvalidRoleDefinition, "id", "The role definition id '%s' is not {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}.", d.ID)
	}
	if !guidRE.MatchString(id.Name()) || (d.Name != "" && !strings.EqualFold(d.Name, id.Name())) {
		return invalidf(CodeInvalidRoleDefinition, "name", "The role definition name '%s' must be the GUID at the end of its id.", d.Name)
	}
	p := &d.Properties
	if p.RoleType != CustomRole {
		return posture.Errorf(posture.EINVALID, CodeBuiltInRoleNotModifiable, "Only custom roles (properties.type %q) can be written; %q is not one.", CustomRole, p.RoleType).WithTarget("properties.type")
	}
	switch name := strings.TrimSpace(p.RoleName); {
	case name == "":
		return invalidf(CodeInvalidRoleDefinition, "properties.roleName", "The role definition must have a roleName.")
	case len(p.RoleName) > maxRoleNameLen:
		return invalidf(CodeInvalidRoleDefinition, "properties.roleName", "The roleName is longer than %d characters.", maxRoleNameLen)
	}
	if len(p.Description) > maxDescriptionLen {
		return invalidf(CodeInvalidRoleDefinition, "properties.description", "The description is longer than %d characters.", maxDescriptionLen)
	}
	if err := validatePermissions(p.Permissions); err != nil {
		return err
	}
	return validateAssignableScopes(p.AssignableScopes)
}

func validatePermissions(perms []Permission) error {
	granted := 0
	for i, b := range perms {
		lists := []struct {
			name string
			ss   []string
		}{{"actions", b.Actions}, {"notActions", b.NotActions}, {"dataActions", b.DataActions}, {"notDataActions", b.NotDataActions}}
		for _, l := range lists {
			if len(l.ss) > maxActionsPerBlockList {
				return invalidf(CodeInvalidRoleDefinition, fieldf("properties.permissions[%d].%s", i, l.name), "More than %d entries.", maxActionsPerBlockList)
			}
			for j, a := range l.ss {
				if reason := actionProblem(a, 1); reason != "" {
					return invalidAction(fieldf("properties.permissions[%d].%s[%d]", i, l.name, j), a, reason)
				}
			}
		}
		granted += len(b.Actions) + len(b.DataActions)
	}
	if granted == 0 {
		return invalidf(CodeInvalidRoleDefinition, "properties.permissions", "The role definition must grant at least one action or data action.")
	}
	return nil
}

// actionProblem says what is wrong with an action string, or "" if
// nothing is. Well-formed means "*", or "{namespace or *}/{segments}" with
// no empty segment, no spaces, at most maxWildcards wildcards, and, when
// there is no wildcard, a last segment that is an operation verb (read,
// write, delete, action), which every Azure operation name ends with.
func actionProblem(a string, maxWildcards int) string {
	switch {
	case a == "":
		return "it is empty"
	case len(a) > maxActionLen:
		return "it is too long"
	case strings.IndexFunc(a, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "it contains a space or a control character"
	case strings.Count(a, "*") > maxWildcards:
		return "it has more than one wildcard"
	case a == "*":
		return ""
	}
	segs := strings.Split(a, "/")
	if len(segs) < 2 {
		return "it must be {provider namespace}/{resource type}/{operation}"
	}
	for _, s := range segs {
		if s == "" {
			return "it has an empty segment"
		}
	}
	if ns := segs[0]; !namespaceRE.MatchString(ns) && !(strings.Contains(ns, "*") && wildNamespaceRE.MatchString(ns)) {
		return "'" + ns + "' is not a resource provider namespace"
	}
	if !strings.Contains(a, "*") {
		switch strings.ToLower(segs[len(segs)-1]) {
		case "read", "write", "delete", "action":
		default:
			return "it does not end in read, write, delete or action"
		}
	}
	return ""
}

func validateAssignableScopes(scopes []string) error {
	if len(scopes) == 0 {
		return invalidf(CodeInvalidAssignableScope, "properties.assignableScopes", "A custom role must have at least one assignable scope.")
	}
	if len(scopes) > maxAssignableScopes {
		return invalidf(CodeInvalidAssignableScope, "properties.assignableScopes", "A custom role can have at most %d assignable scopes.", maxAssignableScopes)
	}
	mgs := 0
	for i, s := range scopes {
		target := fieldf("properties.assignableScopes[%d]", i)
		if strings.Contains(s, "*") {
			return invalidf(CodeInvalidAssignableScope, target, "The assignable scope '%s' contains a wildcard, which custom roles cannot use.", s)
		}
		id, err := armid.Parse(s)
		if err != nil {
			return invalidf(CodeInvalidAssignableScope, target, "The assignable scope '%s' is not a valid scope: %v.", s, err)
		}
		switch id.Kind() {
		case armid.Tenant:
			return invalidf(CodeInvalidAssignableScope, target, "A custom role cannot be assignable at the root scope '/'.")
		case armid.ManagementGroup:
			if mgs++; mgs > 1 {
				return invalidf(CodeInvalidAssignableScope, target, "A custom role can have only one management group among its assignable scopes.")
			}
		case armid.Resource:
			if strings.HasPrefix(id.Key(), "/providers/") {
				return invalidf(CodeInvalidAssignableScope, target, "The assignable scope '%s' is not a management group, subscription, resource group or resource.", s)
			}
		}
	}
	return nil
}
