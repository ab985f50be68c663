package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/google/uuid"
)

// TestAzureSDKRoles drives role assignments and role definitions with the
// unchanged armauthorization/v2 SDK (api-version 2022-04-01) against
// posture serve --demo, and checks over plain HTTP that a custom role
// grants exactly its actions.
func TestAzureSDKRoles(t *testing.T) {
	s := startServer(t, "--demo")
	ctx := context.Background()
	cred := tokenCredential(s.token)
	opts := sdkOptions(s.url)
	subID := strings.TrimPrefix(rbacSub, "/subscriptions/")
	reader := rbacRoleGUID(t, "Reader")

	// A resource group with a virtual network and a virtual machine.
	var rg, vnet, vm string
	_, _, groups := s.rbacListIDs(t, s.token, rbacSub+"/resourcegroups?api-version=2021-04-01")
	slices.Sort(groups)
	for _, g := range groups {
		_, _, resources := s.rbacListIDs(t, s.token, g+"/resources?api-version=2021-04-01")
		slices.Sort(resources)
		vnet, vm = "", ""
		for _, id := range resources {
			switch lower := strings.ToLower(id); {
			case vnet == "" && strings.Contains(lower, "/providers/microsoft.network/virtualnetworks/"):
				vnet = id
			case vm == "" && strings.Contains(lower, "/providers/microsoft.compute/virtualmachines/"):
				vm = id
			}
		}
		if vnet != "" && vm != "" {
			rg = g
			break
		}
	}
	if rg == "" {
		t.Fatalf("no resource group of %s has a virtual network and a virtual machine", rbacSub)
	}

	ras, err := armauthorization.NewRoleAssignmentsClient(subID, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	rds, err := armauthorization.NewRoleDefinitionsClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	user := rbacNewCaller(t, s, "sdk-user", "SDK User", "User")

	t.Run("role assignments", func(t *testing.T) {
		name := uuid.NewString()
		readerID := rbacSub + "/providers/Microsoft.Authorization/roleDefinitions/" + reader
		var raw *http.Response
		before := time.Now().Add(-time.Minute)
		created, err := ras.Create(runtime.WithCaptureResponse(ctx, &raw), rg, name, armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				PrincipalID:      to.Ptr(user.id),
				RoleDefinitionID: to.Ptr(readerID),
				PrincipalType:    to.Ptr(armauthorization.PrincipalTypeUser),
				Description:      to.Ptr("read the group"),
			},
		}, nil)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if raw.StatusCode != http.StatusCreated {
			t.Errorf("create answered %d, want 201", raw.StatusCode)
		}
		wantID := rg + "/providers/Microsoft.Authorization/roleAssignments/" + name
		check := func(what string, ra armauthorization.RoleAssignment) {
			t.Helper()
			p := ra.Properties
			if ra.ID == nil || !strings.EqualFold(*ra.ID, wantID) || ra.Name == nil || *ra.Name != name || ra.Type == nil || *ra.Type != "Microsoft.Authorization/roleAssignments" || p == nil {
				t.Fatalf("%s: %+v", what, ra)
			}
			if p.PrincipalType == nil || *p.PrincipalType != armauthorization.PrincipalTypeUser ||
				p.PrincipalID == nil || *p.PrincipalID != user.id ||
				p.Scope == nil || !strings.EqualFold(*p.Scope, rg) ||
				p.RoleDefinitionID == nil || !strings.EqualFold(*p.RoleDefinitionID, readerID) ||
				p.Description == nil || *p.Description != "read the group" {
				t.Errorf("%s: properties %+v", what, *p)
			}
			if p.CreatedOn == nil || p.CreatedOn.Before(before) || p.CreatedOn.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s: createdOn %v", what, p.CreatedOn)
			}
		}
		check("created", created.RoleAssignment)
		got, err := ras.Get(ctx, rg, name, nil)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		check("get", got.RoleAssignment)

		// An assignment of the same principal below the group (at the
		// network), made over plain HTTP.
		below := rbacAssign(t, s, vnet, reader, user.id)
		list := func(filter string) []*armauthorization.RoleAssignment {
			t.Helper()
			var out []*armauthorization.RoleAssignment
			for p := ras.NewListForScopePager(rg, &armauthorization.RoleAssignmentsClientListForScopeOptions{Filter: to.Ptr(filter)}); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("list %q: %v", filter, err)
				}
				out = append(out, page.Value...)
			}
			return out
		}
		ids := func(v []*armauthorization.RoleAssignment) []string {
			var out []string
			for _, ra := range v {
				out = append(out, strings.ToLower(*ra.ID))
			}
			slices.Sort(out)
			return out
		}
		// atScope(): the assignments at the group and above it (the
		// bootstrap principal's Owner at the root), not those below.
		atScope := list("atScope()")
		if !slices.Contains(ids(atScope), strings.ToLower(wantID)) || slices.Contains(ids(atScope), strings.ToLower(below)) {
			t.Errorf("atScope(): %v", ids(atScope))
		}
		for _, ra := range atScope {
			if sc := strings.ToLower(*ra.Properties.Scope); sc != "/" && !strings.HasPrefix(strings.ToLower(rg)+"/", sc+"/") {
				t.Errorf("atScope() lists an assignment at %s, not at or above %s", sc, rg)
			}
		}
		// principalId eq: the principal's assignments at, above and below
		// the scope (Azure's documented meaning without atScope()).
		{
			byPrincipal := list("principalId eq '" + user.id + "'")
			if want := []string{strings.ToLower(below), strings.ToLower(wantID)}; !slices.Equal(ids(byPrincipal), rbacSorted(want)) {
				t.Errorf("principalId eq: %v, want %v", ids(byPrincipal), rbacSorted(want))
			}
		}
		rbacUnassign(t, s, below)

		var deleted *http.Response
		if _, err := ras.Delete(runtime.WithCaptureResponse(ctx, &deleted), rg, name, nil); err != nil || deleted.StatusCode != http.StatusOK {
			t.Fatalf("delete: %v", err)
		}
		if _, err := ras.Get(ctx, rg, name, nil); !isCode(err, http.StatusNotFound, "RoleAssignmentNotFound") {
			t.Errorf("get after delete: %v", err)
		}
		if _, err := ras.Delete(runtime.WithCaptureResponse(ctx, &deleted), rg, name, nil); err != nil || deleted.StatusCode != http.StatusNoContent {
			t.Errorf("delete again: %v, want 204", err)
		}
	})

	t.Run("built-in role definitions", func(t *testing.T) {
		byID, err := rds.GetByID(ctx, "/providers/Microsoft.Authorization/roleDefinitions/"+reader, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := byID.Properties
		if *byID.Name != reader || *byID.Type != "Microsoft.Authorization/roleDefinitions" || *p.RoleName != "Reader" || *p.RoleType != "BuiltInRole" ||
			len(p.Permissions) != 1 || len(p.Permissions[0].Actions) != 1 || *p.Permissions[0].Actions[0] != "*/read" || len(p.Permissions[0].NotActions) != 0 ||
			len(p.AssignableScopes) != 1 || *p.AssignableScopes[0] != "/" {
			t.Errorf("Reader: %+v %+v", byID.RoleDefinition, *p)
		}
		// Addressed at a subscription, the id is the subscription's.
		atSub, err := rds.Get(ctx, rbacSub, reader, nil)
		if err != nil || *atSub.ID != rbacSub+"/providers/Microsoft.Authorization/roleDefinitions/"+reader {
			t.Errorf("Reader at the subscription: %v %v", err, atSub.ID)
		}
		var names []string
		for pg := rds.NewListPager(rbacSub, &armauthorization.RoleDefinitionsClientListOptions{Filter: to.Ptr("roleName eq 'Reader'")}); pg.More(); {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Value {
				names = append(names, *d.Name+" "+*d.Properties.RoleName)
			}
		}
		if !slices.Equal(names, []string{reader + " Reader"}) {
			t.Errorf("roleName eq 'Reader': %v", names)
		}
		if _, err := rds.Get(ctx, rbacSub, uuid.NewString(), nil); !isCode(err, http.StatusNotFound, "RoleDefinitionDoesNotExist") {
			t.Errorf("an unknown role: %v", err)
		}
	})

	t.Run("custom role", func(t *testing.T) {
		guid := uuid.NewString()
		const action = "Microsoft.Network/virtualNetworks/read"
		def, err := rds.CreateOrUpdate(ctx, rbacSub, guid, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
			RoleName:         to.Ptr("SDK Network Reader"),
			Description:      to.Ptr("Reads virtual networks."),
			RoleType:         to.Ptr("CustomRole"),
			Permissions:      []*armauthorization.Permission{{Actions: []*string{to.Ptr(action)}}},
			AssignableScopes: []*string{to.Ptr(rbacSub)},
		}}, nil)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		p := def.Properties
		if *def.Name != guid || !strings.EqualFold(*def.ID, rbacSub+"/providers/Microsoft.Authorization/roleDefinitions/"+guid) || *p.RoleType != "CustomRole" ||
			*p.RoleName != "SDK Network Reader" || len(p.Permissions) != 1 || len(p.Permissions[0].Actions) != 1 || *p.Permissions[0].Actions[0] != action ||
			len(p.AssignableScopes) != 1 || !strings.EqualFold(*p.AssignableScopes[0], rbacSub) {
			t.Fatalf("created: %+v %+v", def.RoleDefinition, *p)
		}

		custom := rbacNewCaller(t, s, "sdk-custom", "SDK Custom", "ServicePrincipal")
		name := uuid.NewString()
		ra, err := ras.Create(ctx, rbacSub, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: to.Ptr(custom.id), RoleDefinitionID: def.ID,
		}}, nil)
		if err != nil {
			t.Fatalf("assign the custom role: %v", err)
		}
		if *ra.Properties.PrincipalType != armauthorization.PrincipalTypeServicePrincipal {
			t.Errorf("principalType not filled from the directory: %v", *ra.Properties.PrincipalType)
		}

		// Exactly its one action: the network reads, nothing else.
		doc := s.get(t, vnet+"?api-version=2023-09-01")
		for _, c := range []struct {
			method, path, body string
			denied             string // the action refused, "" when allowed
		}{
			{http.MethodGet, vnet, "", ""},
			{http.MethodPut, vnet, string(doc), "Microsoft.Network/virtualNetworks/write"},
			{http.MethodDelete, vnet, "", "Microsoft.Network/virtualNetworks/delete"},
			{http.MethodGet, vm, "", "Microsoft.Compute/virtualMachines/read"},
			{http.MethodGet, rg, "", "Microsoft.Resources/subscriptions/resourceGroups/read"},
		} {
			version := "2023-09-01"
			if c.path == rg {
				version = "2021-04-01"
			}
			code, b := s.rbacAs(t, custom, c.method, c.path+"?api-version="+version, c.body)
			if c.denied == "" {
				if code != http.StatusOK {
					t.Errorf("%s %s: %d %.300s", c.method, c.path, code, b)
				}
				continue
			}
			if got := rbacErrorOf(b); code != http.StatusForbidden || got.Code != "AuthorizationFailed" || got.Message != rbacDenial(custom, c.denied, c.path) {
				t.Errorf("%s %s: %d %.300s, want 403 for %s", c.method, c.path, code, b, c.denied)
			}
		}

		// A role in use cannot be deleted.
		if _, err := rds.Delete(ctx, rbacSub, guid, nil); !rbacIsCode4xx(err, "RoleDefinitionHasAssignments") {
			t.Errorf("delete a role in use: %v", err)
		}
		if code, b := s.rbacAs(t, custom, http.MethodGet, vnet+"?api-version=2023-09-01", ""); code != http.StatusOK {
			t.Errorf("the refused delete took the role away: %d %s", code, b)
		}
		if _, err := ras.Delete(ctx, rbacSub, name, nil); err != nil {
			t.Fatal(err)
		}
		gone, err := rds.Delete(ctx, rbacSub, guid, nil)
		if err != nil || gone.Name == nil || *gone.Name != guid {
			t.Fatalf("delete the unused role: %v %+v", err, gone)
		}
		if _, err := rds.Get(ctx, rbacSub, guid, nil); !isCode(err, http.StatusNotFound, "RoleDefinitionDoesNotExist") {
			t.Errorf("get a deleted role: %v", err)
		}
		if code, _ := s.rbacAs(t, custom, http.MethodGet, vnet+"?api-version=2023-09-01", ""); code != http.StatusForbidden {
			t.Errorf("without the assignment the network is still readable: %d", code)
		}
	})
}

func rbacIsCode4xx(err error, code string) bool {
	var re *azcore.ResponseError
	return asResponseError(err, &re) && re.StatusCode/100 == 4 && re.ErrorCode == code
}

func rbacSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
