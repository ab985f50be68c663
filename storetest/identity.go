package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
)

// mustWrite runs fn in a write transaction and fails the test on error.
func mustWrite(t testing.TB, s posture.Store, fn func(tx posture.Tx) error) {
	t.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// mustRead runs fn in a read transaction and fails the test on error.
func mustRead(t testing.TB, s posture.Store, fn func(tx posture.Tx) error) {
	t.Helper()
	if err := s.Read(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// each runs fn on every item, stopping at the first error.
func each[T any](items []T, fn func(T) error) error {
	for _, it := range items {
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

const raPrefix = "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/"

// testPrincipals: principals list in id order; groups are replaced, not
// appended to, and deduplicated; memberships map members to groups; tokens
// read back by id and by principal; DeletePrincipal takes the principal's
// tokens, role assignments and memberships (as member and as group) with
// it, and nothing of anyone else's.
func testPrincipals(t *testing.T, b Backend) {
	s := b.Open(t)
	now := clockBase
	ps := []*posture.Principal{
		{ID: "u2", Type: posture.PrincipalUser, DisplayName: "Bea", CreatedAt: now.Add(2 * time.Second)},
		{ID: "g1", Type: posture.PrincipalGroup, DisplayName: "Ops", CreatedAt: now},
		{ID: "u1", Type: posture.PrincipalUser, DisplayName: "Ann", CreatedAt: now.Add(time.Second)},
		{ID: "g2", Type: posture.PrincipalGroup, DisplayName: "All", CreatedAt: now},
		{ID: "app", Type: posture.PrincipalServicePrincipal, DisplayName: "ci", CreatedAt: now},
	}
	// Tokens are listed by creation time, not by id or name.
	toks := []*posture.Token{
		{ID: "t-a", PrincipalID: "u1", Name: "late", Hash: "h1", CreatedAt: now.Add(2 * time.Hour)},
		{ID: "t-b", PrincipalID: "u1", Name: "early", Hash: "h2", CreatedAt: now.Add(time.Hour), ExpiresAt: now.Add(48 * time.Hour), RevokedAt: now.Add(3 * time.Hour)},
		{ID: "t-c", PrincipalID: "u2", Name: "cli", Hash: "h3", CreatedAt: now},
	}
	ras := []*posture.RoleAssignment{
		{ID: raPrefix + "a1", Scope: "/subscriptions/s1", PrincipalID: "u1", RoleDefinitionID: posture.RoleOwner, CreatedAt: now},
		{ID: raPrefix + "a2", Scope: "/subscriptions/s1", PrincipalID: "u2", RoleDefinitionID: posture.RoleOwner, CreatedAt: now},
		{ID: raPrefix + "a3", Scope: "/subscriptions/s1", PrincipalID: "g1", RoleDefinitionID: posture.RoleOwner, CreatedAt: now},
	}
	mustWrite(t, s, func(tx posture.Tx) error {
		if err := each(ps, tx.PutPrincipal); err != nil {
			return err
		}
		if err := each(toks, tx.PutToken); err != nil {
			return err
		}
		if err := each(ras, tx.PutRoleAssignment); err != nil {
			return err
		}
		// Duplicates and order do not matter; a second call replaces.
		if err := tx.SetGroupMembers("g1", []string{"u2", "app", "u2"}); err != nil {
			return err
		}
		if err := tx.SetGroupMembers("g1", []string{"u2", "u1", "u2"}); err != nil {
			return err
		}
		return tx.SetGroupMembers("g2", []string{"g1", "u1"})
	})

	mustRead(t, s, func(tx posture.Tx) error {
		got, err := tx.Principals()
		if err != nil {
			return err
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, p.ID)
		}
		if want := []string{"app", "g1", "g2", "u1", "u2"}; !slices.Equal(ids, want) {
			t.Errorf("principals %v, want %v (id order)", ids, want)
		}
		for _, p := range got {
			for _, w := range ps {
				if w.ID == p.ID && !reflect.DeepEqual(p, w) {
					t.Errorf("principal %s: %+v, want %+v", p.ID, p, w)
				}
			}
		}
		if m, err := tx.GroupMembers("g1"); err != nil || !slices.Equal(m, []string{"u1", "u2"}) {
			t.Errorf("members of g1: %v %v, want [u1 u2] (replaced, sorted, no duplicates)", m, err)
		}
		if m, err := tx.GroupMembers("nope"); err != nil || len(m) != 0 {
			t.Errorf("members of an unknown group: %v %v", m, err)
		}
		ms, err := tx.Memberships()
		if err != nil {
			return err
		}
		if want := map[string][]string{"u1": {"g1", "g2"}, "u2": {"g1"}, "g1": {"g2"}}; !reflect.DeepEqual(ms, want) {
			t.Errorf("memberships %v, want %v", ms, want)
		}
		list, err := tx.Tokens("u1")
		if err != nil {
			return err
		}
		var tids []string
		for _, tok := range list {
			tids = append(tids, tok.ID)
		}
		if !slices.Equal(tids, []string{"t-b", "t-a"}) {
			t.Errorf("tokens of u1: %v, want [t-b t-a] (creation order)", tids)
		}
		for _, w := range toks {
			tok, err := tx.Token(w.ID)
			if err != nil || !reflect.DeepEqual(tok, w) {
				t.Errorf("token %s: %+v %v, want %+v", w.ID, tok, err, w)
			}
		}
		_, err = tx.Token("t-nope")
		wantCode(t, err, posture.ENOTFOUND, "TokenNotFound")
		return nil
	})

	// Delete a user: its tokens, assignments and memberships go; a group
	// it was in keeps its other members.
	mustWrite(t, s, func(tx posture.Tx) error { return tx.DeletePrincipal("u1") })
	mustRead(t, s, func(tx posture.Tx) error {
		_, err := tx.Principal("u1")
		wantCode(t, err, posture.ENOTFOUND, "PrincipalNotFound")
		if l, err := tx.Tokens("u1"); err != nil || len(l) != 0 {
			t.Errorf("tokens of a deleted principal: %+v %v", l, err)
		}
		for _, id := range []string{"t-a", "t-b"} {
			if _, err := tx.Token(id); !posture.IsNotFound(err) {
				t.Errorf("token %s of a deleted principal: %v", id, err)
			}
		}
		if _, err := tx.TokenByHash("h1"); !posture.IsNotFound(err) {
			t.Errorf("a deleted principal's token still authenticates: %v", err)
		}
		if l, err := tx.RoleAssignments("u1"); err != nil || len(l) != 0 {
			t.Errorf("assignments of a deleted principal: %+v %v", l, err)
		}
		if _, err := tx.RoleAssignment(raPrefix + "a1"); !posture.IsNotFound(err) {
			t.Errorf("assignment a1 of the deleted principal: %v", err)
		}
		if m, _ := tx.GroupMembers("g1"); !slices.Equal(m, []string{"u2"}) {
			t.Errorf("members of g1 after deleting u1: %v", m)
		}
		if m, _ := tx.GroupMembers("g2"); !slices.Equal(m, []string{"g1"}) {
			t.Errorf("members of g2 after deleting u1: %v", m)
		}
		if _, err := tx.Token("t-c"); err != nil {
			t.Errorf("another principal's token went: %v", err)
		}
		if all, _ := tx.AllRoleAssignments(); len(all) != 2 {
			t.Errorf("assignments left: %d, want 2", len(all))
		}
		return nil
	})

	// Delete a group: it leaves the groups it was in, its members leave it.
	mustWrite(t, s, func(tx posture.Tx) error { return tx.DeletePrincipal("g1") })
	mustRead(t, s, func(tx posture.Tx) error {
		if m, err := tx.GroupMembers("g1"); err != nil || len(m) != 0 {
			t.Errorf("members of a deleted group: %v %v", m, err)
		}
		if m, err := tx.GroupMembers("g2"); err != nil || len(m) != 0 {
			t.Errorf("g2 still lists the deleted group: %v %v", m, err)
		}
		if ms, err := tx.Memberships(); err != nil || len(ms) != 0 {
			t.Errorf("memberships after deleting g1: %v %v, want none", ms, err)
		}
		if _, err := tx.RoleAssignment(raPrefix + "a3"); !posture.IsNotFound(err) {
			t.Errorf("the deleted group's assignment: %v", err)
		}
		if n, err := tx.CountPrincipals(); n != 3 || err != nil {
			t.Errorf("principals left: %d %v, want 3", n, err)
		}
		return nil
	})

	err := s.Write(context.Background(), func(tx posture.Tx) error { return tx.DeletePrincipal("nobody") })
	wantCode(t, err, posture.ENOTFOUND, "PrincipalNotFound")
}

// testRoleAssignments: every field round-trips; ids are case-insensitive
// for get, replace and delete; deleting an unknown one is
// RoleAssignmentNotFound.
func testRoleAssignments(t *testing.T, b Backend) {
	s := b.Open(t)
	now := clockBase
	full := &posture.RoleAssignment{
		ID:               raPrefix + "0a8d6a3c-7b3e-4f0e-9d5a-5c1f3e2b1a01",
		Scope:            "/subscriptions/s1",
		PrincipalID:      "u1",
		PrincipalType:    posture.PrincipalUser,
		RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/" + posture.RoleOwner,
		Description:      "break-glass, ticket 42",
		CreatedAt:        now.Add(123456 * time.Microsecond),
		CreatedBy:        "admin",
		UpdatedAt:        now.Add(time.Hour + 7*time.Microsecond),
		UpdatedBy:        "admin2",
	}
	bare := &posture.RoleAssignment{
		ID: "/subscriptions/s2/providers/Microsoft.Authorization/roleAssignments/1b000000-0000-0000-0000-000000000000", Scope: "/subscriptions/s2",
		PrincipalID: "g1", RoleDefinitionID: posture.RoleOwner, CreatedAt: now,
	}
	mustWrite(t, s, func(tx posture.Tx) error { return each([]*posture.RoleAssignment{full, bare}, tx.PutRoleAssignment) })
	mustRead(t, s, func(tx posture.Tx) error {
		for _, id := range []string{full.ID, strings.ToUpper(full.ID), strings.ToLower(full.ID)} {
			got, err := tx.RoleAssignment(id)
			if err != nil || !reflect.DeepEqual(got, full) {
				t.Errorf("RoleAssignment(%s):\n got %+v %v\nwant %+v", id, got, err, full)
			}
		}
		all, err := tx.AllRoleAssignments()
		if err != nil {
			return err
		}
		if len(all) != 2 || !reflect.DeepEqual(all[0], full) || !reflect.DeepEqual(all[1], bare) {
			t.Errorf("all assignments (by id): %+v", all)
		}
		mine, err := tx.RoleAssignments("g1")
		if err != nil || len(mine) != 1 || mine[0].ID != bare.ID {
			t.Errorf("assignments of g1: %+v %v", mine, err)
		}
		_, err = tx.RoleAssignment(raPrefix + "nope")
		wantCode(t, err, posture.ENOTFOUND, "RoleAssignmentNotFound")
		return nil
	})

	// A put under the id in other case replaces the row; it does not add one.
	upd := *full
	upd.ID = strings.ToUpper(full.ID)
	upd.Description, upd.UpdatedAt, upd.UpdatedBy = "rotated", now.Add(2*time.Hour), "admin3"
	mustWrite(t, s, func(tx posture.Tx) error { return tx.PutRoleAssignment(&upd) })
	mustRead(t, s, func(tx posture.Tx) error {
		all, err := tx.AllRoleAssignments()
		if err != nil {
			return err
		}
		if len(all) != 2 {
			t.Fatalf("a put under the same id in other case added a row: %d rows", len(all))
		}
		got, err := tx.RoleAssignment(full.ID)
		if err != nil || got.Description != "rotated" || !got.UpdatedAt.Equal(upd.UpdatedAt) || got.UpdatedBy != "admin3" {
			t.Errorf("replaced assignment: %+v %v", got, err)
		}
		return nil
	})

	mustWrite(t, s, func(tx posture.Tx) error { return tx.DeleteRoleAssignment(strings.ToUpper(bare.ID)) })
	err := s.Write(context.Background(), func(tx posture.Tx) error { return tx.DeleteRoleAssignment(bare.ID) })
	wantCode(t, err, posture.ENOTFOUND, "RoleAssignmentNotFound")
	mustRead(t, s, func(tx posture.Tx) error {
		all, err := tx.AllRoleAssignments()
		if err != nil || len(all) != 1 || !strings.EqualFold(all[0].ID, full.ID) {
			t.Errorf("after delete: %+v %v", all, err)
		}
		return nil
	})
}

// testRoleDefinitionDocs: custom roles are put, replaced (by GUID, in any
// case) and deleted; deleting an unknown one is RoleDefinitionDoesNotExist.
func testRoleDefinitionDocs(t *testing.T, b Backend) {
	s := b.Open(t)
	const g1, g2 = "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	docs := func() map[string]string {
		out := map[string]string{}
		mustRead(t, s, func(tx posture.Tx) error {
			ds, err := tx.RoleDefinitionDocs()
			for _, d := range ds {
				var v struct{ Name string }
				if err := json.Unmarshal(d, &v); err != nil {
					t.Fatalf("stored document %s: %v", d, err)
				}
				out[v.Name] = string(d)
			}
			return err
		})
		return out
	}
	if got := docs(); len(got) != 0 {
		t.Fatalf("a new store has custom roles: %v", got)
	}
	d1 := `{"name":"` + g1 + `","properties":{"roleName":"one"}}`
	d1b := `{"name":"` + g1 + `","properties":{"roleName":"one, renamed"}}`
	d2 := `{"name":"` + g2 + `","properties":{"roleName":"two"}}`
	mustWrite(t, s, func(tx posture.Tx) error {
		if err := tx.PutRoleDefinitionDoc(g1, json.RawMessage(d1)); err != nil {
			return err
		}
		return tx.PutRoleDefinitionDoc(g2, json.RawMessage(d2))
	})
	if got := docs(); !reflect.DeepEqual(got, map[string]string{g1: d1, g2: d2}) {
		t.Errorf("after two puts: %v", got)
	}
	mustWrite(t, s, func(tx posture.Tx) error { return tx.PutRoleDefinitionDoc(strings.ToUpper(g1), json.RawMessage(d1b)) })
	if got := docs(); !reflect.DeepEqual(got, map[string]string{g1: d1b, g2: d2}) {
		t.Errorf("after replacing %s by its upper-case GUID: %v", g1, got)
	}
	mustWrite(t, s, func(tx posture.Tx) error { return tx.DeleteRoleDefinitionDoc(strings.ToUpper(g2)) })
	if got := docs(); !reflect.DeepEqual(got, map[string]string{g1: d1b}) {
		t.Errorf("after deleting %s: %v", g2, got)
	}
	err := s.Write(context.Background(), func(tx posture.Tx) error { return tx.DeleteRoleDefinitionDoc(g2) })
	wantCode(t, err, posture.ENOTFOUND, "RoleDefinitionDoesNotExist")
}
