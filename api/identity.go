package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/auth"
	"github.com/posture/posture/authz"
	"github.com/posture/posture/identity"
)

// Versions of Microsoft.Authorization's role APIs (the armauthorization
// SDK v2 sends 2022-04-01).
var (
	roleAssignmentVersions = apiVersions{"2015-07-01", "2018-01-01-preview", "2018-09-01-preview", "2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2022-04-01"}
	roleDefinitionVersions = apiVersions{"2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview"}
)

func (s *Server) registerIdentity() {
	if s.Identity == nil {
		return
	}
	s.handle(identity.RoleAssignmentType, &typeRoutes{
		versions: roleAssignmentVersions,
		get:      getRoleAssignment,
		put:      putRoleAssignment,
		del:      deleteRoleAssignment,
		list:     listRoleAssignments,
	})
	s.handle(authz.RoleDefinitionType, &typeRoutes{
		versions: roleDefinitionVersions,
		get:      getRoleDefinition,
		put:      putRoleDefinition,
		del:      deleteRoleDefinition,
		list:     listRoleDefinitions,
		// Role definitions say what roles mean, not who holds what: every
		// signed-in caller may read them (Azure shows built-in roles to
		// anyone who can sign in). Writes keep the standard check.
		authorize: readsOpen,
	})
	// Principals, like directory objects, are readable by every signed-in
	// caller. Changing them (group members) or minting another's token
	// grants access, so it takes what granting takes: see grantsAccess.
	s.handle(identity.PrincipalType, &typeRoutes{
		versions:  postureVersions,
		get:       getPrincipal,
		put:       putPrincipal,
		del:       deletePrincipal,
		list:      listPrincipals,
		authorize: readsOpenWritesGrant,
	})
	s.handle(identity.PrincipalType+"/tokens", &typeRoutes{
		versions:  postureVersions,
		get:       getToken,
		put:       putToken,
		del:       deleteToken,
		list:      listTokens,
		authorize: selfOrAuthorized,
	})
}

// readsOpen lets every signed-in caller read; other methods get the
// standard check.
func readsOpen(c *call) error {
	if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
		return nil
	}
	action, scope, err := c.s.actionOf(c, nil)
	if err != nil {
		return err
	}
	return c.s.Authz.Authorize(c.principal, action, scope)
}

// readsOpenWritesGrant lets every signed-in caller read principals; a
// change needs its own action and the right to grant access (grantsAccess).
func readsOpenWritesGrant(c *call) error {
	if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
		return nil
	}
	return grantsAccess(c)
}

// selfOrAuthorized lets a principal manage its own tokens; another's tokens
// are another's identity, so they need the right to grant access.
func selfOrAuthorized(c *call) error {
	if tokenPrincipal(c) == c.principal.ID {
		return nil
	}
	return grantsAccess(c)
}

// grantsAccess checks a change that can hand out access without a role
// assignment (a group's members, a token for someone else): the call's own
// action, and Microsoft.Authorization/roleAssignments/write at the root, so
// that only those who may grant anything anywhere (Owner, User Access
// Administrator at the root) may. Contributor's "*" covers Posture.Identity
// actions but not this: Azure's Contributor "does not allow you to assign
// roles".
func grantsAccess(c *call) error {
	action, scope, err := c.s.actionOf(c, nil)
	if err != nil {
		return err
	}
	if err := c.s.Authz.Authorize(c.principal, action, scope); err != nil {
		return err
	}
	return c.s.Authz.Authorize(c.principal, authz.ActionRoleAssignmentWrite, "/")
}

// tokenPrincipal is the principal in /providers/Posture.Identity/principals/{p}/tokens[/{t}].
func tokenPrincipal(c *call) string {
	id := c.id
	if !c.path.IsCollection() {
		id = id.Parent()
	}
	return id.Name()
}

func getRoleAssignment(c *call) error {
	ra, err := c.s.Identity.RoleAssignment(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, identity.AssignmentDocument(ra))
}

func putRoleAssignment(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	ra, err := identity.ParseRoleAssignment(c.id, body)
	if err != nil {
		return err
	}
	out, created, err := c.s.Identity.PutRoleAssignment(c.ctx, ra)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.ok(status, identity.AssignmentDocument(out))
}

func deleteRoleAssignment(c *call) error {
	old, err := c.s.Identity.DeleteRoleAssignment(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	if old == nil {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return c.ok(http.StatusOK, identity.AssignmentDocument(old))
}

var (
	atScopeRE    = regexp.MustCompile(`(?i)^atScope\(\)$`)
	principalRE  = regexp.MustCompile(`(?i)^principalId\s+eq\s+'([^']*)'$`)
	assignedToRE = regexp.MustCompile(`(?i)^assignedTo\('([^']*)'\)$`)
	roleNameRE   = regexp.MustCompile(`(?i)^roleName\s+eq\s+'([^']*)'$`)
	roleTypeRE   = regexp.MustCompile(`(?i)^type\s+eq\s+'([^']*)'$`)
	andRE        = regexp.MustCompile(`(?i)\s+and\s+`)
)

// filterTerms splits a $filter on " and ".
func filterTerms(f string) []string {
	if strings.TrimSpace(f) == "" {
		return nil
	}
	parts := andRE.Split(strings.TrimSpace(f), -1)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func unsupportedFilter(term string) error {
	return posture.Errorf(posture.EINVALID, "UnsupportedQuery", "The filter '%s' is not supported. Use atScope(), principalId eq '{id}', assignedTo('{id}'), roleName eq '{name}' or type eq '{type}'.", clip(term))
}

func listRoleAssignments(c *call) error {
	f := identity.AssignmentFilter{Scope: c.id}
	for _, term := range filterTerms(c.param("$filter")) {
		switch {
		case atScopeRE.MatchString(term):
			f.AtScope = true
		case principalRE.MatchString(term):
			f.PrincipalID = principalRE.FindStringSubmatch(term)[1]
		case assignedToRE.MatchString(term):
			f.AssignedTo = assignedToRE.FindStringSubmatch(term)[1]
		default:
			return unsupportedFilter(term)
		}
	}
	ras, err := c.s.Identity.RoleAssignments(c.ctx, f)
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(ras))
	for i, ra := range ras {
		docs[i] = identity.AssignmentDocument(ra)
	}
	return c.list(docs, "")
}

// roleDefinitionDoc renders a role with the id as the caller addressed it:
// Azure answers a subscription-scoped GET with a subscription-scoped id.
func (c *call) roleDefinitionDoc(d authz.RoleDefinition, scopeID string) json.RawMessage {
	if scopeID != "/" && scopeID != "" {
		d.ID = strings.TrimSuffix(scopeID, "/") + "/providers/" + authz.RoleDefinitionType + "/" + d.Name
	}
	b, _ := json.Marshal(d)
	return b
}

func getRoleDefinition(c *call) error {
	d, err := c.s.Authz.RoleDefinition(c.id.Name())
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, c.roleDefinitionDoc(d, c.id.Scope().String()))
}

func putRoleDefinition(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	def, err := authz.ParseRoleDefinition(c.id.String(), body)
	if err != nil {
		return err
	}
	out, created, err := c.s.Identity.PutRoleDefinition(c.ctx, def)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.ok(status, c.roleDefinitionDoc(out, c.id.Scope().String()))
}

func deleteRoleDefinition(c *call) error {
	old, err := c.s.Identity.DeleteRoleDefinition(c.ctx, c.id.Name())
	if err != nil {
		return err
	}
	if old == nil {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return c.ok(http.StatusOK, c.roleDefinitionDoc(*old, c.id.Scope().String()))
}

func listRoleDefinitions(c *call) error {
	f := identity.RoleDefinitionFilter{Scope: c.id}
	for _, term := range filterTerms(c.param("$filter")) {
		switch {
		case roleNameRE.MatchString(term):
			f.RoleName = roleNameRE.FindStringSubmatch(term)[1]
		case roleTypeRE.MatchString(term):
			f.Type = roleTypeRE.FindStringSubmatch(term)[1]
		default:
			return unsupportedFilter(term)
		}
	}
	var docs []json.RawMessage
	for _, d := range c.s.Identity.RoleDefinitions(f) {
		docs = append(docs, c.roleDefinitionDoc(d, c.id.String()))
	}
	return c.list(docs, "")
}

func getPrincipal(c *call) error {
	p, members, err := c.s.Identity.Principal(c.ctx, c.id.Name())
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, identity.PrincipalDocument(p, members))
}

func putPrincipal(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	w, err := identity.ParsePrincipal(c.id.Name(), body)
	if err != nil {
		return err
	}
	p, members, created, err := c.s.Identity.PutPrincipal(c.ctx, w)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.ok(status, identity.PrincipalDocument(p, members))
}

func deletePrincipal(c *call) error {
	if strings.EqualFold(c.id.Name(), c.principal.ID) {
		return posture.Errorf(posture.ECONFLICT, "CannotDeleteSelf", "A principal cannot delete itself; ask another Owner.")
	}
	p, members, err := c.s.Identity.Principal(c.ctx, c.id.Name())
	if posture.IsNotFound(err) {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	if _, err := c.s.Identity.DeletePrincipal(c.ctx, p.ID); err != nil {
		return err
	}
	// Its tokens stop working at once, not when the authenticator's cache
	// of token checks lets them go.
	if f, ok := c.s.Auth.(interface{ ForgetTokens() }); ok {
		f.ForgetTokens()
	}
	return c.ok(http.StatusOK, identity.PrincipalDocument(p, members))
}

func listPrincipals(c *call) error {
	ps, err := c.s.Identity.Principals(c.ctx)
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(ps))
	for i, p := range ps {
		docs[i] = identity.PrincipalDocument(p, nil)
	}
	return c.list(docs, "")
}

// tokenBody is the body of PUT …/principals/{p}/tokens/{id}.
type tokenBody struct {
	Properties struct {
		DisplayName string `json:"displayName"`
		// ExpiresOn is an RFC 3339 time; empty: never.
		ExpiresOn string `json:"expiresOn"`
	} `json:"properties"`
}

func putToken(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	var b tokenBody
	if err := json.Unmarshal(body, &b); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content is not a valid token: %v.", err)
	}
	name := strings.TrimSpace(b.Properties.DisplayName)
	if name == "" || len(name) > 128 {
		return posture.Errorf(posture.EINVALID, "InvalidDisplayName", "properties.displayName must be 1 to 128 characters.").WithTarget("properties.displayName")
	}
	if !identity.ValidPrincipalID(c.id.Name()) {
		return posture.Errorf(posture.EINVALID, "InvalidTokenId", "The token id '%s' is not valid: use letters, digits, '.', '_', '@' and '-'.", clip(c.id.Name()))
	}
	var ttl time.Duration
	if e := b.Properties.ExpiresOn; e != "" {
		t, err := time.Parse(time.RFC3339, e)
		if err != nil {
			return posture.Errorf(posture.EINVALID, "InvalidExpiresOn", "properties.expiresOn '%s' is not an RFC 3339 time.", clip(e)).WithTarget("properties.expiresOn")
		}
		if ttl = t.Sub(c.s.Now()); ttl <= 0 {
			return posture.Errorf(posture.EINVALID, "InvalidExpiresOn", "properties.expiresOn is in the past.").WithTarget("properties.expiresOn")
		}
	}
	secret, tok, err := c.s.Tokens.CreateToken(c.ctx, tokenPrincipal(c), c.id.Name(), name, ttl)
	if err != nil {
		return err
	}
	// The secret is in this answer only; posture keeps its hash.
	var doc map[string]any
	_ = json.Unmarshal(auth.TokenDocument(tok, c.s.Now()), &doc)
	doc["properties"].(map[string]any)["secret"] = secret
	b2, _ := json.Marshal(doc)
	c.w.Header().Set("Cache-Control", "no-store")
	return c.ok(http.StatusCreated, b2)
}

func getToken(c *call) error {
	tok, err := c.s.Tokens.Token(c.ctx, tokenPrincipal(c), c.id.Name())
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, auth.TokenDocument(tok, c.s.Now()))
}

func deleteToken(c *call) error {
	tok, err := c.s.Tokens.RevokeToken(c.ctx, tokenPrincipal(c), c.id.Name())
	if err != nil {
		return err
	}
	if tok == nil {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return c.ok(http.StatusOK, auth.TokenDocument(tok, c.s.Now()))
}

func listTokens(c *call) error {
	toks, err := c.s.Tokens.Tokens(c.ctx, tokenPrincipal(c))
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(toks))
	for i, t := range toks {
		docs[i] = auth.TokenDocument(t, c.s.Now())
	}
	return c.list(docs, "")
}
