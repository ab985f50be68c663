package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/authz"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/sqlite"
)

var clockBase = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixture is an identity.Service over a real SQLite store, with a clock
// that moves one second per reading.
type fixture struct {
	t     *testing.T
	store posture.Store
	hier  authz.Hierarchy
	svc   *identity.Service
	clock posture.Clock
}

// in returns the fixture reporting to t, for subtests.
func (f *fixture) in(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// ticker returns a clock that moves one second per reading.
func ticker() posture.Clock {
	var mu sync.Mutex
	now := clockBase
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func newFixture(t *testing.T, h authz.Hierarchy) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{t: t, store: store, hier: h, clock: ticker()}
	if f.svc, err = identity.Load(ctx, store, h, f.clock); err != nil {
		t.Fatal(err)
	}
	return f
}

// as returns a context whose caller is p (the actor of ledger entries).
func as(p *posture.Principal) context.Context {
	return posture.NewContextWithPrincipal(context.Background(), p)
}

var (
	admin  = &posture.Principal{ID: "admin", Type: posture.PrincipalUser, DisplayName: "Admin"}
	ciApp  = &posture.Principal{ID: "ci-app", Type: posture.PrincipalServicePrincipal, DisplayName: "CI"}
	system = context.Background() // no principal: posture's own job
)

// principal creates or updates a principal through the body of its PUT;
// members, when not nil, replace a group's.
func (f *fixture) principal(ctx context.Context, id, typ string, members []string) {
	f.t.Helper()
	props := map[string]any{"principalType": typ, "displayName": strings.ToUpper(id)}
	if members != nil {
		props["members"] = members
	}
	body, _ := json.Marshal(map[string]any{"properties": props})
	w, err := identity.ParsePrincipal(id, body)
	if err != nil {
		f.t.Fatalf("principal %s: %v", id, err)
	}
	if _, _, _, err := f.svc.PutPrincipal(ctx, w); err != nil {
		f.t.Fatalf("put principal %s: %v", id, err)
	}
}

// raID returns the id of the role assignment number n at scope.
func raID(scope string, n int) string {
	return strings.TrimSuffix(scope, "/") + fmt.Sprintf("/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-%012d", n)
}

func roleID(guid string) string { return "/providers/Microsoft.Authorization/roleDefinitions/" + guid }

// raBody is the body of a role assignment PUT; principalType may be "".
func raBody(role, principalID, principalType string) string {
	if principalType == "" {
		return fmt.Sprintf(`{"properties":{"roleDefinitionId":%q,"principalId":%q}}`, role, principalID)
	}
	return fmt.Sprintf(`{"properties":{"roleDefinitionId":%q,"principalId":%q,"principalType":%q}}`, role, principalID, principalType)
}

// assign PUTs a role assignment as the API does: parse, then the service.
func (f *fixture) assign(ctx context.Context, id, body string) (*posture.RoleAssignment, bool, error) {
	aid, err := armid.Parse(id)
	if err != nil {
		return nil, false, err
	}
	ra, err := identity.ParseRoleAssignment(aid, []byte(body))
	if err != nil {
		return nil, false, err
	}
	return f.svc.PutRoleAssignment(ctx, ra)
}

func (f *fixture) mustAssign(ctx context.Context, id, role, principalID string) *posture.RoleAssignment {
	f.t.Helper()
	ra, _, err := f.assign(ctx, id, raBody(role, principalID, ""))
	if err != nil {
		f.t.Fatalf("assign %s: %v", id, err)
	}
	return ra
}

func wantCode(t *testing.T, err error, kind posture.Kind, code string) {
	t.Helper()
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind != kind || pe.Code != code {
		t.Errorf("error %v, want %s %s", err, kind, code)
	}
}

// access is one question to the Authorizer and its expected answer.
type access struct {
	principal, action, scope string
	want                     bool
}

// checkAccess asks the live Authorizer and one loaded afresh from the
// store (a restart): both must give the expected answers.
func (f *fixture) checkAccess(cases ...access) {
	f.t.Helper()
	fresh, err := identity.Load(context.Background(), f.store, f.hier, f.clock)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range cases {
		if got := f.svc.Authz.Allowed(c.principal, c.action, c.scope); got != c.want {
			f.t.Errorf("live: %s may %s at %s: %v, want %v", c.principal, c.action, c.scope, got, c.want)
		}
		if got := fresh.Authz.Allowed(c.principal, c.action, c.scope); got != c.want {
			f.t.Errorf("after a restart: %s may %s at %s: %v, want %v", c.principal, c.action, c.scope, got, c.want)
		}
	}
}

func (f *fixture) head() int64 {
	f.t.Helper()
	var seq int64
	if err := f.store.Read(context.Background(), func(tx posture.Tx) error {
		var err error
		seq, _, err = tx.LedgerHead()
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return seq
}

// ev is what a test expects of a ledger entry.
type ev struct {
	kind, action, scope, actor, actorType string
}

// wantEvents checks the ledger entries appended after seq.
func (f *fixture) wantEvents(after int64, want ...ev) {
	f.t.Helper()
	var es []*posture.Event
	if err := f.store.Read(context.Background(), func(tx posture.Tx) error {
		var err error
		es, err = tx.Events(posture.EventFilter{After: after})
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	var got []ev
	for _, e := range es {
		got = append(got, ev{e.Kind, e.Action, e.Scope, e.Actor, e.ActorType})
		if e.Stream != strings.ToLower(e.Scope) {
			f.t.Errorf("entry %d: stream %q is not the lower-case id %q", e.Seq, e.Stream, e.Scope)
		}
		// Before and After are nil when the object did not exist
		// (posture.Event).
		if (e.Before == nil) != (e.Kind == posture.EventCreated) || (e.After == nil) != (e.Kind == posture.EventDeleted) {
			f.t.Errorf("entry %d (%s %s): before %s after %s", e.Seq, e.Kind, e.Scope, e.Before, e.After)
		}
	}
	if !reflect.DeepEqual(got, want) {
		f.t.Errorf("ledger entries after %d:\n got %v\nwant %v", after, got, want)
	}
}

func (f *fixture) assignments() []*posture.RoleAssignment {
	f.t.Helper()
	var out []*posture.RoleAssignment
	if err := f.store.Read(context.Background(), func(tx posture.Tx) error {
		var err error
		out, err = tx.AllRoleAssignments()
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return out
}

const (
	sub1    = "/subscriptions/s1"
	rg1     = sub1 + "/resourceGroups/rg1"
	vm1     = rg1 + "/providers/Microsoft.Compute/virtualMachines/vm1"
	sub2    = "/subscriptions/s2"
	vmRead  = "Microsoft.Compute/virtualMachines/read"
	vmWrite = "Microsoft.Compute/virtualMachines/write"

	actPrincipalWrite = identity.ActionPrincipalWrite
	actRAWrite        = authz.ActionRoleAssignmentWrite
	actRADelete       = authz.ActionRoleAssignmentDelete
)

// directory creates admin (Owner at the root, assigned by posture itself),
// users alice and bob, a service principal and group team = {alice}.
func directory(t *testing.T, h authz.Hierarchy) *fixture {
	f := newFixture(t, h)
	f.principal(system, "admin", posture.PrincipalUser, nil)
	f.mustAssign(system, raID("/", 1), roleID(authz.RoleOwner), "admin")
	f.principal(as(admin), "alice", posture.PrincipalUser, nil)
	f.principal(as(admin), "bob", posture.PrincipalUser, nil)
	f.principal(as(admin), "ci-app", posture.PrincipalServicePrincipal, nil)
	f.principal(as(admin), "team", posture.PrincipalGroup, []string{"alice"})
	return f
}

func TestPrincipalsAreLedgered(t *testing.T) {
	f := newFixture(t, nil)
	f.principal(system, "admin", posture.PrincipalUser, nil)
	f.principal(as(admin), "alice", posture.PrincipalUser, nil)
	f.principal(as(ciApp), "team", posture.PrincipalGroup, []string{"alice"})
	f.principal(as(admin), "team", posture.PrincipalGroup, []string{})
	f.wantEvents(0,
		ev{posture.EventCreated, actPrincipalWrite, identity.PrincipalID("admin"), posture.SystemActor, "Application"},
		ev{posture.EventCreated, actPrincipalWrite, identity.PrincipalID("alice"), "admin", "User"},
		ev{posture.EventCreated, actPrincipalWrite, identity.PrincipalID("team"), "ci-app", "Application"},
		ev{posture.EventUpdated, actPrincipalWrite, identity.PrincipalID("team"), "admin", "User"},
	)
	ps, err := f.svc.Principals(context.Background())
	if err != nil || len(ps) != 3 {
		t.Fatalf("principals: %v %v", ps, err)
	}
	_, members, err := f.svc.Principal(context.Background(), "team")
	if err != nil || len(members) != 0 {
		t.Errorf("team after emptying it: %v %v", members, err)
	}
}

// TestPutRoleAssignmentRefusals: each refusal Azure documents, with its
// code (identity/assignments.go and authz/errors.go cite where Azure shows
// them). A refused PUT stores nothing, appends nothing to the ledger and
// grants nothing.
func TestPutRoleAssignmentRefusals(t *testing.T) {
	f := directory(t, nil)
	existing := raID(sub1, 10)
	f.mustAssign(as(admin), existing, roleID(authz.RoleReader), "alice")
	reader := roleID(authz.RoleReader)
	for _, c := range []struct {
		name, id, body string
		kind           posture.Kind
		code           string
	}{
		{"the name is not a GUID", sub1 + "/providers/Microsoft.Authorization/roleAssignments/not-a-guid", raBody(reader, "bob", ""),
			posture.EINVALID, identity.CodeInvalidRoleAssignmentID},
		{"the name is a GUID without hyphens", sub1 + "/providers/Microsoft.Authorization/roleAssignments/0123456789abcdef0123456789abcdef", raBody(reader, "bob", ""),
			posture.EINVALID, identity.CodeInvalidRoleAssignmentID},
		{"the principal does not exist", raID(sub1, 20), raBody(reader, "ghost", ""),
			posture.EINVALID, identity.CodePrincipalNotFound},
		{"a user given as a group", raID(sub1, 21), raBody(reader, "bob", posture.PrincipalGroup),
			posture.EINVALID, identity.CodeUnmatchedPrincipalType},
		{"a service principal given as a user", raID(sub1, 22), raBody(reader, "ci-app", posture.PrincipalUser),
			posture.EINVALID, identity.CodeUnmatchedPrincipalType},
		{"a PUT to an existing id changes the principal", existing, raBody(reader, "bob", ""),
			posture.EINVALID, identity.CodeRoleAssignmentUpdateNotPermitted},
		{"a PUT to an existing id changes the role", existing, raBody(roleID(authz.RoleContributor), "alice", ""),
			posture.EINVALID, identity.CodeRoleAssignmentUpdateNotPermitted},
		{"another id with the same principal, role and scope", raID(sub1, 23), raBody(reader, "alice", ""),
			posture.ECONFLICT, authz.CodeRoleAssignmentExists},
		{"the same, the role named by a subscription-scoped id", raID(sub1, 24), raBody(sub1+reader, "alice", ""),
			posture.ECONFLICT, authz.CodeRoleAssignmentExists},
		{"the role does not exist", raID(sub1, 25), raBody(roleID("99999999-9999-4999-8999-999999999999"), "bob", ""),
			posture.EINVALID, authz.CodeRoleDefinitionDoesNotExist},
		{"properties.scope is not the id's scope", raID(sub1, 26), `{"properties":{"roleDefinitionId":"` + reader + `","principalId":"bob","scope":"/subscriptions/s2"}}`,
			posture.EINVALID, authz.CodeInvalidCreateRoleAssignmentRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := f.in(t)
			before, head := f.assignments(), f.head()
			_, _, err := f.assign(as(admin), c.id, c.body)
			wantCode(t, err, c.kind, c.code)
			if after := f.assignments(); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused PUT changed the store: %+v", after)
			}
			f.wantEvents(head) // none
			f.checkAccess(
				access{"bob", vmRead, vm1, false},
				access{"alice", vmRead, vm1, true},
				access{"alice", vmWrite, vm1, false},
				access{"ci-app", vmRead, vm1, false},
			)
		})
	}
}

// TestRoleAssignmentLifecycle: create, repeat, delete; the Authorizer and a
// restart agree with the store after each, and each is ledgered.
func TestRoleAssignmentLifecycle(t *testing.T) {
	f := directory(t, nil)
	id := raID(rg1, 1)
	f.checkAccess(access{"bob", vmRead, vm1, false}, access{"admin", vmWrite, vm1, true})

	head := f.head()
	ra, created, err := f.assign(as(admin), id, raBody(roleID(authz.RoleReader), "bob", ""))
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	// principalType left out is taken from the principal; systemData
	// names the caller.
	if ra.PrincipalType != posture.PrincipalUser || ra.Scope != rg1 || ra.CreatedBy != "admin" || ra.UpdatedBy != "admin" ||
		ra.CreatedAt.IsZero() || !ra.UpdatedAt.Equal(ra.CreatedAt) {
		t.Errorf("created: %+v", ra)
	}
	stored, err := f.svc.RoleAssignment(context.Background(), strings.ToUpper(id))
	if err != nil || !reflect.DeepEqual(stored, ra) {
		t.Errorf("stored:\n%+v %v\nreturned:\n%+v", stored, err, ra)
	}
	f.wantEvents(head, ev{posture.EventCreated, actRAWrite, id, "admin", "User"})
	// Reader at the resource group: read there and below, nothing above,
	// no writes (Reader is */read).
	f.checkAccess(
		access{"bob", vmRead, vm1, true},
		access{"bob", authz.ActionResourceGroupRead, rg1, true},
		access{"bob", authz.ActionSubscriptionRead, sub1, false},
		access{"bob", vmWrite, vm1, false},
		access{"bob", vmRead, sub2 + "/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1", false},
	)

	// A PUT that repeats principal and role answers with the assignment,
	// changing only its description (the role may be named in another
	// form, the id in another case).
	head = f.head()
	body := `{"properties":{"roleDefinitionId":"` + sub1 + roleID(strings.ToUpper(authz.RoleReader)) + `","principalId":"bob","principalType":"User","description":"on call"}}`
	again, created, err := f.assign(as(ciApp), strings.ToUpper(id), body)
	if err != nil || created {
		t.Fatalf("repeat: %v created=%v", err, created)
	}
	if again.ID != id || again.Description != "on call" || !again.CreatedAt.Equal(ra.CreatedAt) || again.CreatedBy != "admin" ||
		again.UpdatedBy != "ci-app" || !again.UpdatedAt.After(ra.UpdatedAt) || again.RoleDefinitionID != ra.RoleDefinitionID {
		t.Errorf("repeated: %+v\nfirst: %+v", again, ra)
	}
	if all := f.assignments(); len(all) != 2 { // admin's and bob's
		t.Errorf("a repeated PUT added an assignment: %d", len(all))
	}
	f.wantEvents(head, ev{posture.EventUpdated, actRAWrite, id, "ci-app", "Application"})
	f.checkAccess(access{"bob", vmRead, vm1, true})

	head = f.head()
	old, err := f.svc.DeleteRoleAssignment(as(admin), strings.ToUpper(id))
	if err != nil || old == nil || old.ID != id {
		t.Fatalf("delete: %+v %v", old, err)
	}
	f.wantEvents(head, ev{posture.EventDeleted, actRADelete, id, "admin", "User"})
	f.checkAccess(access{"bob", vmRead, vm1, false}, access{"admin", vmWrite, vm1, true})
	if _, err := f.svc.RoleAssignment(context.Background(), id); !posture.IsNotFound(err) {
		t.Errorf("deleted assignment: %v", err)
	}
	// Deleting what is not there answers nil (ARM's 204) and ledgers nothing.
	head = f.head()
	if old, err := f.svc.DeleteRoleAssignment(as(admin), id); old != nil || err != nil {
		t.Errorf("second delete: %+v %v", old, err)
	}
	f.wantEvents(head)
}

// TestGroupMembership: an assignment to a group grants its members,
// transitively (authz/doc.go); changing the members changes who has it.
func TestGroupMembership(t *testing.T) {
	f := directory(t, nil)
	ra := f.mustAssign(as(admin), raID(sub1, 1), roleID(authz.RoleReader), "team")
	if ra.PrincipalType != posture.PrincipalGroup {
		t.Errorf("principal type of a group's assignment: %q", ra.PrincipalType)
	}
	f.checkAccess(
		access{"alice", vmRead, vm1, true},
		access{"alice", vmWrite, vm1, false},
		access{"bob", vmRead, vm1, false},
	)
	head := f.head()
	f.principal(as(admin), "team", posture.PrincipalGroup, []string{"bob"})
	f.wantEvents(head, ev{posture.EventUpdated, actPrincipalWrite, identity.PrincipalID("team"), "admin", "User"})
	f.checkAccess(
		access{"alice", vmRead, vm1, false},
		access{"bob", vmRead, vm1, true},
	)
	// Nested: outer = {team}; Security Reader on outer reaches bob.
	f.principal(as(admin), "outer", posture.PrincipalGroup, []string{"team"})
	f.mustAssign(as(admin), raID(sub1, 2), roleID(authz.RoleSecurityReader), "outer")
	f.checkAccess(
		access{"bob", "Microsoft.Security/assessments/read", vm1, true},
		access{"alice", "Microsoft.Security/assessments/read", vm1, false},
	)
	// Emptying the inner group cuts both paths.
	f.principal(as(admin), "team", posture.PrincipalGroup, []string{})
	f.checkAccess(
		access{"bob", vmRead, vm1, false},
		access{"bob", "Microsoft.Security/assessments/read", vm1, false},
	)
}

// TestDeletePrincipal: deleting a principal revokes its assignments, in the
// Authorizer at once, and each is ledgered; deleting a group revokes what
// its members had through it.
func TestDeletePrincipal(t *testing.T) {
	f := directory(t, nil)
	own := f.mustAssign(as(admin), raID(sub1, 1), roleID(authz.RoleContributor), "alice")
	viaGroup := f.mustAssign(as(admin), raID(sub2, 2), roleID(authz.RoleReader), "team")
	f.checkAccess(access{"alice", vmWrite, vm1, true}, access{"alice", vmRead, sub2, true})

	head := f.head()
	found, err := f.svc.DeletePrincipal(as(admin), "alice")
	if err != nil || !found {
		t.Fatalf("delete alice: %v %v", found, err)
	}
	f.wantEvents(head,
		ev{posture.EventDeleted, actRADelete, own.ID, "admin", "User"},
		ev{posture.EventDeleted, identity.ActionPrincipalDelete, identity.PrincipalID("alice"), "admin", "User"},
	)
	f.checkAccess(access{"alice", vmWrite, vm1, false}, access{"alice", vmRead, sub2, false})
	if _, members, err := f.svc.Principal(context.Background(), "team"); err != nil || len(members) != 0 {
		t.Errorf("team still lists alice: %v %v", members, err)
	}
	// A principal created again under the old id does not inherit
	// anything (a new Entra object would have a new id; posture must not
	// keep the old grants around).
	f.principal(as(admin), "alice", posture.PrincipalUser, nil)
	f.checkAccess(access{"alice", vmWrite, vm1, false}, access{"alice", vmRead, sub2, false})

	f.principal(as(admin), "team", posture.PrincipalGroup, []string{"bob"})
	f.checkAccess(access{"bob", vmRead, sub2, true})
	head = f.head()
	if found, err := f.svc.DeletePrincipal(as(ciApp), "team"); err != nil || !found {
		t.Fatalf("delete team: %v %v", found, err)
	}
	f.wantEvents(head,
		ev{posture.EventDeleted, actRADelete, viaGroup.ID, "ci-app", "Application"},
		ev{posture.EventDeleted, identity.ActionPrincipalDelete, identity.PrincipalID("team"), "ci-app", "Application"},
	)
	f.checkAccess(access{"bob", vmRead, sub2, false})

	head = f.head()
	if found, err := f.svc.DeletePrincipal(as(admin), "ghost"); found || err != nil {
		t.Errorf("delete an unknown principal: %v %v", found, err)
	}
	f.wantEvents(head)
}

const customGUID = "4d2a1f3e-0c1b-4c5d-9e8f-7a6b5c4d3e2f"

func customRole(t *testing.T, actions ...string) authz.RoleDefinition {
	t.Helper()
	body := fmt.Sprintf(`{"properties":{"roleName":"Assessment Reader","description":"Reads security assessments.",
		"permissions":[{"actions":["%s"],"notActions":[]}],"assignableScopes":["/subscriptions/s1"]}}`, strings.Join(actions, `","`))
	def, err := authz.ParseRoleDefinition(sub1+roleID(customGUID), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestCustomRole: a custom role grants exactly its actions where it is
// assigned and below; it is assignable only inside its assignable scopes;
// it cannot be deleted while assigned (azure-docs custom-roles.md, cited in
// authz/errors.go).
func TestCustomRole(t *testing.T) {
	f := directory(t, nil)
	const assessRead, assessWrite = "Microsoft.Security/assessments/read", "Microsoft.Security/assessments/write"
	head := f.head()
	def, created, err := f.svc.PutRoleDefinition(as(admin), customRole(t, assessRead))
	if err != nil || !created {
		t.Fatalf("create role: %v %v", created, err)
	}
	tenantID := roleID(customGUID)
	if def.ID != tenantID {
		t.Errorf("role id %q, want the tenant-level %q", def.ID, tenantID)
	}
	f.wantEvents(head, ev{posture.EventCreated, authz.ActionRoleDefinitionWrite, tenantID, "admin", "User"})

	_, _, err = f.assign(as(admin), raID(sub2, 1), raBody(tenantID, "bob", ""))
	wantCode(t, err, posture.EINVALID, authz.CodeInvalidCreateRoleAssignmentRequest)

	ra := f.mustAssign(as(admin), raID(rg1, 1), sub1+roleID(customGUID), "bob")
	f.checkAccess(
		access{"bob", assessRead, vm1, true},
		access{"bob", assessRead, rg1, true},
		access{"bob", assessRead, sub1, false}, // above the assignment
		access{"bob", assessWrite, vm1, false},
		access{"bob", vmRead, vm1, false},
		access{"bob", "*/read", rg1, false},
	)

	// Adding an action to the role grants it to the assignment.
	head = f.head()
	if _, created, err := f.svc.PutRoleDefinition(as(admin), customRole(t, assessRead, assessWrite)); err != nil || created {
		t.Fatalf("update role: %v %v", created, err)
	}
	f.wantEvents(head, ev{posture.EventUpdated, authz.ActionRoleDefinitionWrite, tenantID, "admin", "User"})
	f.checkAccess(access{"bob", assessWrite, vm1, true}, access{"bob", vmRead, vm1, false})

	head = f.head()
	_, err = f.svc.DeleteRoleDefinition(as(admin), customGUID)
	wantCode(t, err, posture.ECONFLICT, authz.CodeRoleDefinitionHasAssignments)
	f.wantEvents(head)
	f.checkAccess(access{"bob", assessWrite, vm1, true})

	if _, err := f.svc.DeleteRoleAssignment(as(admin), ra.ID); err != nil {
		t.Fatal(err)
	}
	head = f.head()
	if old, err := f.svc.DeleteRoleDefinition(as(admin), customGUID); err != nil || old == nil {
		t.Fatalf("delete an unassigned role: %+v %v", old, err)
	}
	f.wantEvents(head, ev{posture.EventDeleted, authz.ActionRoleDefinitionDelete, tenantID, "admin", "User"})
	_, _, err = f.assign(as(admin), raID(rg1, 2), raBody(tenantID, "bob", ""))
	wantCode(t, err, posture.EINVALID, authz.CodeRoleDefinitionDoesNotExist)
	fresh, err := identity.Load(context.Background(), f.store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Authz.RoleDefinition(customGUID); !posture.IsNotFound(err) {
		t.Errorf("a deleted role is back after a restart: %v", err)
	}
}

// TestRoleAssignmentsFilters: the list at a scope has the assignments at,
// above and below it; atScope() keeps at and above; principalId keeps
// one principal's; assignedTo adds the groups it is in (the meanings of
// Azure's $filter values, identity.AssignmentFilter).
func TestRoleAssignmentsFilters(t *testing.T) {
	corp := "/providers/Microsoft.Management/managementGroups/corp"
	f := directory(t, authz.HierarchyMap{"/subscriptions/s1": strings.ToLower(corp)})
	reader := roleID(authz.RoleReader)
	root := raID("/", 1) // admin's Owner
	atCorp := f.mustAssign(as(admin), raID(corp, 2), reader, "bob").ID
	atSub := f.mustAssign(as(admin), raID(sub1, 3), reader, "alice").ID
	atRG := f.mustAssign(as(admin), raID(rg1, 4), reader, "team").ID
	atVM := f.mustAssign(as(admin), raID(vm1, 5), reader, "bob").ID
	atSub2 := f.mustAssign(as(admin), raID(sub2, 6), reader, "alice").ID

	for _, c := range []struct {
		name string
		f    identity.AssignmentFilter
		want []string
	}{
		{"at a subscription: above (management group, root) and below", identity.AssignmentFilter{Scope: armid.MustParse(sub1)},
			[]string{root, atCorp, atSub, atRG, atVM}},
		{"atScope at a subscription", identity.AssignmentFilter{Scope: armid.MustParse(sub1), AtScope: true},
			[]string{root, atCorp, atSub}},
		{"atScope at a resource group", identity.AssignmentFilter{Scope: armid.MustParse(rg1), AtScope: true},
			[]string{root, atCorp, atSub, atRG}},
		{"at the management group: the subscriptions in it are below", identity.AssignmentFilter{Scope: armid.MustParse(corp)},
			[]string{root, atCorp, atSub, atRG, atVM}},
		{"at the root: everything", identity.AssignmentFilter{Scope: armid.Root},
			[]string{root, atCorp, atSub, atRG, atVM, atSub2}},
		{"atScope at the root", identity.AssignmentFilter{Scope: armid.Root, AtScope: true},
			[]string{root}},
		{"principalId", identity.AssignmentFilter{Scope: armid.Root, PrincipalID: "BOB"},
			[]string{atCorp, atVM}},
		{"principalId at a resource group", identity.AssignmentFilter{Scope: armid.MustParse(rg1), PrincipalID: "alice"},
			[]string{atSub}},
		{"assignedTo includes groups", identity.AssignmentFilter{Scope: armid.Root, AssignedTo: "alice"},
			[]string{atSub, atRG, atSub2}},
		{"assignedTo and atScope", identity.AssignmentFilter{Scope: armid.MustParse(rg1), AtScope: true, AssignedTo: "alice"},
			[]string{atSub, atRG}},
	} {
		got, err := f.svc.RoleAssignments(context.Background(), c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ids []string
		for _, ra := range got {
			ids = append(ids, ra.ID)
		}
		slices.Sort(ids)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(ids, want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, ids, want)
		}
	}
	// The hierarchy places s1 under corp: bob's Reader there reaches s1's
	// resources, not s2's.
	f.checkAccess(access{"bob", vmRead, rg1, true}, access{"bob", vmRead, sub2, false})
}

// errCommit stands for a commit that fails (the database went away).
var errCommit = errors.New("commit failed")

// flakyStore fails its writes after running them, when told to: nothing of
// the transaction is kept.
type flakyStore struct {
	posture.Store
	fail bool
}

func (s *flakyStore) Write(ctx context.Context, fn func(posture.Tx) error) error {
	if !s.fail {
		return s.Store.Write(ctx, fn)
	}
	return s.Store.Write(ctx, func(tx posture.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCommit
	})
}

// TestFailedWriteChangesNothing: the store is the truth (identity/service.go):
// when a change does not commit, the Authorizer must not have it either.
func TestFailedWriteChangesNothing(t *testing.T) {
	f := directory(t, nil)
	f.mustAssign(as(admin), raID(sub1, 1), roleID(authz.RoleReader), "team")
	if _, _, err := f.svc.PutRoleDefinition(as(admin), customRole(t, "Microsoft.Security/assessments/read")); err != nil {
		t.Fatal(err)
	}
	f.mustAssign(as(admin), raID(sub1, 2), roleID(customGUID), "bob")
	flaky := &flakyStore{Store: f.store}
	f.svc.Store = flaky
	unchanged := []access{
		{"alice", vmRead, vm1, true},
		{"bob", vmRead, vm1, false},
		{"bob", "Microsoft.Security/assessments/read", vm1, true},
		{"bob", "Microsoft.Security/assessments/write", vm1, false},
		{"ci-app", vmRead, vm1, false},
	}
	for _, c := range []struct {
		name string
		op   func() error
	}{
		{"PutRoleAssignment", func() error {
			_, _, err := f.assign(as(admin), raID(sub1, 3), raBody(roleID(authz.RoleReader), "ci-app", ""))
			return err
		}},
		{"DeleteRoleAssignment", func() error {
			_, err := f.svc.DeleteRoleAssignment(as(admin), raID(sub1, 1))
			return err
		}},
		{"PutPrincipal with members", func() error {
			w, _ := identity.ParsePrincipal("team", []byte(`{"properties":{"principalType":"Group","displayName":"Team","members":["bob"]}}`))
			_, _, _, err := f.svc.PutPrincipal(as(admin), w)
			return err
		}},
		{"DeletePrincipal", func() error {
			_, err := f.svc.DeletePrincipal(as(admin), "team")
			return err
		}},
		{"PutRoleDefinition", func() error {
			_, _, err := f.svc.PutRoleDefinition(as(admin), customRole(t, "Microsoft.Security/assessments/read", "Microsoft.Security/assessments/write"))
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := f.in(t)
			head := f.head()
			flaky.fail = true
			err := c.op()
			flaky.fail = false
			if !errors.Is(err, errCommit) {
				t.Errorf("error %v, want the commit's", err)
			}
			f.wantEvents(head)
			f.checkAccess(unchanged...)
		})
	}
	// A role whose delete does not commit is still there.
	if _, err := f.svc.DeleteRoleAssignment(as(admin), raID(sub1, 2)); err != nil {
		t.Fatal(err)
	}
	flaky.fail = true
	if _, err := f.svc.DeleteRoleDefinition(as(admin), customGUID); !errors.Is(err, errCommit) {
		t.Errorf("DeleteRoleDefinition: %v, want the commit's error", err)
	}
	flaky.fail = false
	if _, err := f.svc.Authz.RoleDefinition(customGUID); err != nil {
		t.Errorf("the role whose delete failed is gone from the Authorizer: %v", err)
	}
}

// TestPrincipalIDsDifferingInCase: the Authorizer compares principal ids
// case-insensitively (authz.Data: "ids compare case-insensitively
// throughout"), so a second principal whose id differs from an Owner's only
// in case must not come to exist with the Owner's access. (A Contributor at
// the root may create principals and mint their tokens, Posture.Identity
// being granted by "*"; it must not become Owner that way.)
func TestPrincipalIDsDifferingInCase(t *testing.T) {
	f := directory(t, nil)
	w, err := identity.ParsePrincipal("ADMIN", []byte(`{"properties":{"principalType":"User","displayName":"not the admin"}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = f.svc.PutPrincipal(as(admin), w)
	if err == nil && f.svc.Authz.Allowed("ADMIN", actRAWrite, raID("/", 9)) {
		t.Errorf("a new principal ADMIN may write role assignments at the root: it has the Owner assignment of admin")
	}
	if posture.ErrorCode(err) != "PrincipalIdConflict" {
		t.Errorf("PUT of ADMIN next to admin: %v, want 409 PrincipalIdConflict", err)
	}
}
