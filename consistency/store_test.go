package consistency

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlite"
)

// TestPatchedTx: the patched transaction answers every filter Defender
// uses as the store answers once the patch is written into it.
func TestPatchedTx(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	row := func(res, asg, state string) *posture.ResourceStates {
		return &posture.ResourceStates{ResourceKey: res, AssignmentKey: asg, ResourceType: "t", SubscriptionID: strings.Split(res, "/")[2],
			States: []posture.PolicyState{{ReferenceID: "r", State: state}}}
	}
	var stored []*posture.ResourceStates
	for _, sub := range []string{"/subscriptions/s1", "/subscriptions/s2", "/subscriptions/s10"} {
		for i := range 4 {
			for _, a := range []string{"/a1", "/a2"} {
				stored = append(stored, row(fmt.Sprintf("%s/resourcegroups/g/providers/x/r%d", sub, i), sub+a, "Compliant"))
			}
		}
		stored = append(stored, row(sub, sub+"/a1", "NonCompliant"))
	}
	if err := store.Write(ctx, func(tx posture.Tx) error { return tx.PutPolicyStates(stored) }); err != nil {
		t.Fatal(err)
	}
	patch := []*posture.ResourceStates{
		row("/subscriptions/s1/resourcegroups/g/providers/x/r1", "/subscriptions/s1/a1", "NonCompliant"),          // replaced
		{ResourceKey: "/subscriptions/s1/resourcegroups/g/providers/x/r2", AssignmentKey: "/subscriptions/s1/a2"}, // deleted
		{ResourceKey: "/subscriptions/s1/resourcegroups/g/providers/x/r3", AssignmentKey: "/subscriptions/s1/a1"}, // deleted
		row("/subscriptions/s1/resourcegroups/g/providers/x/r9", "/subscriptions/s1/a1", "NonCompliant"),          // added
		row("/subscriptions/s10/resourcegroups/g/providers/x/r0", "/subscriptions/s10/a3", "Compliant"),           // added
		row("/subscriptions/s2", "/subscriptions/s2/a1", "Compliant"),                                             // replaced
	}
	filters := []posture.PolicyStateFilter{
		{},
		{Limit: 3},
		{Under: "/subscriptions/s1"},
		{Under: "/subscriptions/s1", Limit: 2},
		{Under: "/subscriptions/s1", After: "/subscriptions/s1/resourcegroups/g/providers/x/r1\x00~", Limit: 2},
		{Under: "/subscriptions/s1", After: "/subscriptions/s1/resourcegroups/g/providers/x/r0\x00/subscriptions/s1/a1", Limit: 3},
		{ResourceKey: "/subscriptions/s1/resourcegroups/g/providers/x/r2"},
		{ResourceKeys: []string{"/subscriptions/s1/resourcegroups/g/providers/x/r3", "/subscriptions/s1/resourcegroups/g/providers/x/r9"}},
		{AssignmentKey: "/subscriptions/s1/a1", Limit: 2},
		{Under: "/", Limit: 5},
	}
	// Paging through everything, a few rows a time, as Defender's Start does.
	pages := func(tx posture.Tx) ([]string, error) {
		var out []string
		f := posture.PolicyStateFilter{Limit: 4}
		for {
			rows, err := tx.PolicyStates(f)
			if err != nil {
				return nil, err
			}
			out = append(out, render(rows)...)
			if len(rows) < f.Limit {
				return out, nil
			}
			f.After = rows[len(rows)-1].ResourceKey + "\x00" + rows[len(rows)-1].AssignmentKey
		}
	}
	answers := func(tx posture.Tx) ([][]string, error) {
		var out [][]string
		for _, f := range filters {
			rows, err := tx.PolicyStates(f)
			if err != nil {
				return nil, err
			}
			out = append(out, render(rows))
		}
		all, err := pages(tx)
		return append(out, all), err
	}
	var patched, written [][]string
	if err := store.Read(ctx, func(tx posture.Tx) error {
		patched, err = answers(newPatchedTx(tx, patch))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Write(ctx, func(tx posture.Tx) error { return tx.PutPolicyStates(patch) }); err != nil {
		t.Fatal(err)
	}
	if err := store.Read(ctx, func(tx posture.Tx) error {
		written, err = answers(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range written {
		name := "paging"
		if i < len(filters) {
			name = fmt.Sprintf("%+v", filters[i])
		}
		if !slices.Equal(patched[i], written[i]) {
			t.Errorf("%s:\npatched %q\nwritten %q", name, patched[i], written[i])
		}
		if len(written[i]) == 0 {
			t.Errorf("%s selects nothing: a test that cannot fail", name)
		}
	}
}

func render(rows []*posture.ResourceStates) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ResourceKey + " " + r.AssignmentKey + " " + r.States[0].State
	}
	return out
}
