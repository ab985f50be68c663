package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture/client"
)

// identityAPIVersion is the version of posture's own identity endpoints;
// roleAPIVersion the roleAssignments/roleDefinitions version the CLI speaks.
const (
	identityAPIVersion = "2026-11-01"
	roleAPIVersion     = "2022-04-01"
)

// serverFlags reach a server with a token.
type serverFlags struct {
	ClientFlags
	Data string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
}

func principalPath(id string) string {
	return "/providers/Posture.Identity/principals/" + url.PathEscape(id)
}

// PrincipalCmd groups the principal subcommands.
type PrincipalCmd struct {
	Create PrincipalCreateCmd `cmd:"" help:"Create or update a user, group or service principal."`
	List   PrincipalListCmd   `cmd:"" help:"List principals."`
	Show   PrincipalShowCmd   `cmd:"" help:"Show a principal (a group with its members)."`
	Delete PrincipalDeleteCmd `cmd:"" help:"Delete a principal with its tokens and role assignments."`
}

// PrincipalCreateCmd is `posture principal create`.
type PrincipalCreateCmd struct {
	serverFlags
	ID      string   `required:"" help:"Principal id: an Entra object id, an OIDC subject, or a name (letters, digits, . _ @ -)."`
	Type    string   `default:"User" enum:"User,Group,ServicePrincipal" help:"User, Group or ServicePrincipal."`
	Name    string   `required:"" help:"Display name."`
	Members []string `help:"Members of a group (principal ids); replaces the current members."`
	OutputFlags
}

func (c *PrincipalCreateCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	props := map[string]any{"principalType": c.Type, "displayName": c.Name}
	if c.Members != nil {
		props["members"] = c.Members
	}
	var out json.RawMessage
	if _, err := cl.Do(ctx, "PUT", principalPath(c.ID), identityAPIVersion, nil, map[string]any{"properties": props}, &out); err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// PrincipalListCmd is `posture principal list`.
type PrincipalListCmd struct {
	serverFlags
	OutputFlags
}

func (c *PrincipalListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	all, err := listAll(ctx, cl, "/providers/Posture.Identity/principals", identityAPIVersion, "", newProgress(streams.Err, "listing").unit("principals"))
	if err != nil {
		return err
	}
	v := view{Data: all, Columns: []string{"principalId", "type", "name"}}
	for _, raw := range all {
		var p struct {
			Name       string `json:"name"`
			Properties struct {
				PrincipalType, DisplayName string
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		v.Rows = append(v.Rows, []any{p.Name, p.Properties.PrincipalType, p.Properties.DisplayName})
	}
	return c.print(streams.Out, formatTable, v)
}

// PrincipalShowCmd is `posture principal show`.
type PrincipalShowCmd struct {
	serverFlags
	ID string `arg:"" help:"Principal id."`
	OutputFlags
}

func (c *PrincipalShowCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if _, err := cl.Do(ctx, "GET", principalPath(c.ID), identityAPIVersion, nil, nil, &out); err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// PrincipalDeleteCmd is `posture principal delete`.
type PrincipalDeleteCmd struct {
	serverFlags
	ID string `arg:"" help:"Principal id."`
}

func (c *PrincipalDeleteCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	return deleteAndSay(ctx, cl, principalPath(c.ID), identityAPIVersion, streams, "no such principal; nothing deleted", "deleted")
}

// TokenCmd groups the token subcommands.
type TokenCmd struct {
	Create TokenCreateCmd `cmd:"" help:"Mint an API token for a principal; the secret is printed once."`
	List   TokenListCmd   `cmd:"" help:"List a principal's tokens (never their secrets)."`
	Revoke TokenRevokeCmd `cmd:"" help:"Revoke a token; it stops working at once."`
}

// TokenCreateCmd is `posture token create`.
type TokenCreateCmd struct {
	serverFlags
	Principal string        `required:"" help:"Principal id."`
	Name      string        `default:"cli" help:"Display name of the token."`
	Expires   time.Duration `default:"720h" help:"Lifetime (e.g. 720h); 0 for a token that never expires."`
}

func (c *TokenCreateCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	props := map[string]any{"displayName": c.Name}
	if c.Expires > 0 {
		props["expiresOn"] = time.Now().Add(c.Expires).UTC().Format(time.RFC3339)
	}
	id := uuid.NewString()
	var out struct {
		Name       string `json:"name"`
		Properties struct {
			Secret    string  `json:"secret"`
			ExpiresOn *string `json:"expiresOn"`
		} `json:"properties"`
	}
	if _, err := cl.Do(ctx, "PUT", principalPath(c.Principal)+"/tokens/"+id, identityAPIVersion, nil, map[string]any{"properties": props}, &out); err != nil {
		return err
	}
	expires := "never"
	if out.Properties.ExpiresOn != nil {
		expires = *out.Properties.ExpiresOn
	}
	fmt.Fprintf(streams.Err, "token %s for %s (expires %s); the secret is shown once:\n", out.Name, c.Principal, expires)
	fmt.Fprintln(streams.Out, out.Properties.Secret)
	return nil
}

// TokenListCmd is `posture token list`.
type TokenListCmd struct {
	serverFlags
	Principal string `required:"" help:"Principal id."`
	OutputFlags
}

func (c *TokenListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	all, err := listAll(ctx, cl, principalPath(c.Principal)+"/tokens", identityAPIVersion, "", newProgress(streams.Err, "listing").unit("tokens"))
	if err != nil {
		return err
	}
	v := view{Data: all, Columns: []string{"tokenId", "name", "state", "created", "expires"}}
	for _, raw := range all {
		var t struct {
			Name       string `json:"name"`
			Properties struct {
				DisplayName, State, CreatedOn string
				ExpiresOn                     *string
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		exp := "never"
		if t.Properties.ExpiresOn != nil {
			exp = *t.Properties.ExpiresOn
		}
		v.Rows = append(v.Rows, []any{t.Name, t.Properties.DisplayName, t.Properties.State, t.Properties.CreatedOn, exp})
	}
	return c.print(streams.Out, formatTable, v)
}

// TokenRevokeCmd is `posture token revoke`.
type TokenRevokeCmd struct {
	serverFlags
	Principal string `required:"" help:"Principal id."`
	ID        string `arg:"" help:"Token id (from token list)."`
}

func (c *TokenRevokeCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	return deleteAndSay(ctx, cl, principalPath(c.Principal)+"/tokens/"+url.PathEscape(c.ID), identityAPIVersion, streams, "no such token; nothing revoked", "revoked")
}

// RoleCmd groups the role subcommands (like az role assignment).
type RoleCmd struct {
	Assign   RoleAssignCmd   `cmd:"" help:"Assign a role to a principal at a scope."`
	List     RoleListCmd     `cmd:"" help:"List role assignments at a scope (with those above and below it)."`
	Unassign RoleUnassignCmd `cmd:"" help:"Delete a role assignment by id."`
}

// RoleAssignCmd is `posture role assign`.
type RoleAssignCmd struct {
	serverFlags
	Principal string `required:"" help:"Principal id."`
	Role      string `required:"" help:"Role name (e.g. 'Security Admin') or role definition GUID or id."`
	Scope     string `required:"" help:"Scope: / (root), a management group, subscription, resource group or resource id."`
	OutputFlags
}

func (c *RoleAssignCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	roleID := c.Role
	if _, err := uuid.Parse(authzGUID(c.Role)); err != nil {
		var defs struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		q := url.Values{"$filter": {"roleName eq '" + strings.ReplaceAll(c.Role, "'", "") + "'"}}
		if _, err := cl.Do(ctx, "GET", "/providers/Microsoft.Authorization/roleDefinitions", roleAPIVersion, q, nil, &defs); err != nil {
			return err
		}
		if len(defs.Value) != 1 {
			return usageError{fmt.Errorf("--role %q names no role; give a role name as in Azure (e.g. Reader, 'Security Admin') or a GUID", c.Role)}
		}
		roleID = defs.Value[0].ID
	} else if !strings.Contains(roleID, "/") {
		roleID = "/providers/Microsoft.Authorization/roleDefinitions/" + roleID
	}
	scope := strings.TrimSuffix(c.Scope, "/")
	body := map[string]any{"properties": map[string]any{"roleDefinitionId": roleID, "principalId": c.Principal}}
	var out json.RawMessage
	if _, err := cl.Do(ctx, "PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString(), roleAPIVersion, nil, body, &out); err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// authzGUID returns the last segment of a role definition id.
func authzGUID(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// RoleListCmd is `posture role list`.
type RoleListCmd struct {
	serverFlags
	Scope     string `default:"/" help:"Scope."`
	Principal string `help:"Only this principal's assignments."`
	AtScope   bool   `help:"Only assignments at the scope and above it."`
	OutputFlags
}

func (c *RoleListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	var terms []string
	if c.AtScope {
		terms = append(terms, "atScope()")
	}
	if c.Principal != "" {
		terms = append(terms, "principalId eq '"+c.Principal+"'")
	}
	all, err := listAll(ctx, cl, strings.TrimSuffix(c.Scope, "/")+"/providers/Microsoft.Authorization/roleAssignments", roleAPIVersion,
		strings.Join(terms, " and "), newProgress(streams.Err, "listing").unit("role assignments"))
	if err != nil {
		return err
	}
	names := roleNames(ctx, cl)
	v := view{Data: all, Columns: []string{"principal", "type", "role", "scope", "id"}}
	for _, raw := range all {
		var a struct {
			ID         string `json:"id"`
			Properties struct {
				RoleDefinitionID, PrincipalID, PrincipalType, Scope string
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		p := a.Properties
		role := names[strings.ToLower(authzGUID(p.RoleDefinitionID))]
		if role == "" {
			role = p.RoleDefinitionID
		}
		v.Rows = append(v.Rows, []any{p.PrincipalID, p.PrincipalType, role, p.Scope, a.ID})
	}
	return c.print(streams.Out, formatTable, v)
}

// roleNames maps role GUIDs to names, for tables; empty when unreadable.
func roleNames(ctx context.Context, cl interface {
	Do(context.Context, string, string, string, url.Values, any, any) (int, error)
}) map[string]string {
	var defs struct {
		Value []struct {
			Name       string                    `json:"name"`
			Properties struct{ RoleName string } `json:"properties"`
		} `json:"value"`
	}
	out := map[string]string{}
	if _, err := cl.Do(ctx, "GET", "/providers/Microsoft.Authorization/roleDefinitions", roleAPIVersion, nil, nil, &defs); err == nil {
		for _, d := range defs.Value {
			out[strings.ToLower(d.Name)] = d.Properties.RoleName
		}
	}
	return out
}

// RoleUnassignCmd is `posture role unassign`.
type RoleUnassignCmd struct {
	serverFlags
	ID string `arg:"" help:"Role assignment id ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid})."`
}

func (c *RoleUnassignCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	return deleteAndSay(ctx, cl, c.ID, roleAPIVersion, streams, "no such role assignment; nothing deleted", "deleted")
}

// deleteAndSay sends an ARM DELETE and says whether there was something to
// delete (ARM answers 204 when there was not).
func deleteAndSay(ctx context.Context, cl *client.Client, path, apiVersion string, streams *IO, absent, done string) error {
	status, err := cl.Do(ctx, "DELETE", path, apiVersion, nil, nil, nil)
	if err != nil {
		return err
	}
	if status == 204 {
		fmt.Fprintln(streams.Out, absent)
	} else {
		fmt.Fprintln(streams.Out, done)
	}
	return nil
}
