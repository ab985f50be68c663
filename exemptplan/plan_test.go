package exemptplan_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
)

const (
	mgRoot = "/providers/Microsoft.Management/managementGroups/root"
	mgA    = "/providers/Microsoft.Management/managementGroups/mg-a"
	s1     = "/subscriptions/00000000-0000-0000-0000-000000000001"
	s2     = "/subscriptions/00000000-0000-0000-0000-000000000002"
	rg1    = s1 + "/resourceGroups/rg1"
	rgOut  = s1 + "/resourceGroups/rg-excluded"
	set    = "/providers/Microsoft.Authorization/policySetDefinitions/benchmark"
	defA   = "/providers/Microsoft.Authorization/policyDefinitions/def-a"
	defB   = "/providers/Microsoft.Authorization/policyDefinitions/def-b"
	defC   = "/providers/Microsoft.Authorization/policyDefinitions/def-c"
	a1     = s1 + "/providers/Microsoft.Authorization/policyAssignments/bench-s1"
	a2     = mgA + "/providers/Microsoft.Authorization/policyAssignments/bench-mg"
	a3     = s2 + "/providers/Microsoft.Authorization/policyAssignments/only-a"
	aOld   = s2 + "/providers/Microsoft.Authorization/policyAssignments/old-bench"
	aNew   = s2 + "/providers/Microsoft.Authorization/policyAssignments/new-bench"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func exID(scope, name string) string {
	return scope + "/providers/Microsoft.Authorization/policyExemptions/" + name
}

func ours(extra ...string) map[string]any {
	m := map[string]any{"managedBy": "posture-code", "ownerId": "team", "assignmentDefinitionId": set}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// estate: mg-a under root; s1 under mg-a, s2 under root. bench-s1 (s1)
// and bench-mg (mg-a, notScopes rg-excluded) assign the initiative, whose
// members are refA (def-a), refB and refB2 (both def-b); only-a (s2)
// assigns def-a alone; new-bench (s2) replaced old-bench.
func estate() *exemptplan.Estate {
	return &exemptplan.Estate{
		Assignments: []exemptplan.Assignment{
			{ID: a1, Scope: s1, PolicyDefinitionID: set},
			{ID: a2, Scope: mgA, NotScopes: []string{rgOut}, PolicyDefinitionID: set},
			{ID: a3, Scope: s2, PolicyDefinitionID: defA},
			{ID: aNew, Scope: s2, PolicyDefinitionID: set},
		},
		Initiatives: map[string][]exemptplan.Member{set: {{"refA", defA}, {"refB", defB}, {"refB2", defB}}},
		Recommendations: []exemptplan.Recommendation{
			{Key: "key-a", DisplayName: "Storage should be private", DefinitionID: defA},
			{Key: "key-b", DisplayName: "Disks should be encrypted", DefinitionID: defB},
			{Key: "key-c", DisplayName: "Not assigned anywhere", DefinitionID: defC},
		},
		Parents: map[string]string{mgA: mgRoot, s1: mgA, s2: mgRoot},
		Scopes:  map[string]bool{s2 + "/resourceGroups/gone": false},
		Exemptions: []exemptplan.Exemption{
			{ID: exID(rg1, "keep"), AssignmentID: a1, ReferenceIDs: []string{"refA"}, Category: "Waiver",
				ExpiresOn: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Metadata: ours("ticketRef", "CHG-1")},
			{ID: exID(rg1, "removed"), AssignmentID: a1, Category: "Waiver", Metadata: ours()},
			{ID: exID(rg1, "portal-made"), AssignmentID: a1, Category: "Mitigated", Metadata: map[string]any{"createdFrom": "posture portal"}},
			{ID: exID(rg1, "other-team"), AssignmentID: a1, Category: "Mitigated", Metadata: map[string]any{"managedBy": "posture-code", "ownerId": "other"}},
			{ID: exID(rg1, "lapsed"), AssignmentID: a1, Category: "Waiver", ExpiresOn: now.Add(-time.Hour)},
			{ID: exID(s2, "rebind-me"), AssignmentID: aOld, ReferenceIDs: []string{"refB"}, Category: "Waiver", Metadata: ours()},
			{ID: exID(s2, "stray"), AssignmentID: aOld, Category: "Waiver", Metadata: map[string]any{"assignmentDefinitionId": set}},
			{ID: exID(s1, "outside"), AssignmentID: a3, Category: "Waiver"},
		},
	}
}

// entry builds a desired entry at line; kv sets fields by name.
func entry(line int, name string, kv ...string) desired.Entry {
	e := desired.Entry{Pos: desired.Pos{File: "x.yaml", Line: line, Column: 5}, Name: name, Category: "Waiver",
		Fields: map[string]desired.Pos{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		field := map[string]string{"scope": "scopes", "ref": "policyDefinitionReferenceIds"}[kv[i]]
		if field == "" {
			field = kv[i]
		}
		e.Fields[field] = desired.Pos{File: "x.yaml", Line: line + 1 + i/2, Column: 7}
		switch kv[i] {
		case "scope":
			e.Scopes = append(e.Scopes, v)
		case "assignment":
			e.Assignment = v
		case "recommendation":
			e.Recommendation = v
		case "policyDefinitionId":
			e.PolicyDefinitionID = v
		case "policySetDefinitionId":
			e.PolicySetDefinitionID = v
		case "ref":
			e.ReferenceIDs = append(e.ReferenceIDs, v)
		case "category":
			e.Category = v
		case "expiresOn":
			e.ExpiresOn, _ = time.Parse(time.DateOnly, v)
		case "ticket":
			e.Ticket = v
		case "displayName":
			e.DisplayName = v
		case "metadata":
			k, val, _ := strings.Cut(v, "=")
			if e.Metadata == nil {
				e.Metadata = map[string]any{}
			}
			e.Metadata[k] = val
		default:
			panic(kv[i])
		}
	}
	return e
}

// keep is the file entry that matches the "keep" exemption exactly.
func keep(kv ...string) desired.Entry {
	return entry(1, "keep", append([]string{"scope", rg1, "assignment", a1, "ref", "refA", "expiresOn", "2027-01-01", "ticket", "CHG-1"}, kv...)...)
}

// rebindEntry lists the "rebind-me" exemption with the new assignment.
func rebindEntry(assignment string) desired.Entry {
	return entry(20, "rebind-me", "scope", s2, "assignment", assignment, "ref", "refB")
}

// fan is the name of one of several exemptions an entry yields.
func fan(name, assignment string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(assignment)))
	return name + "-" + hex.EncodeToString(sum[:4])
}

// lines renders a result's actions and problems one per line.
func lines(r *exemptplan.Result) []string {
	var out []string
	for _, a := range r.Actions {
		l := string(a.Kind) + " " + a.ID
		if len(a.Reasons) > 0 && a.Kind != exemptplan.NoChange && a.Kind != exemptplan.Create {
			l += " | " + strings.Join(a.Reasons, "; ")
		}
		out = append(out, l)
	}
	for _, p := range r.Problems {
		out = append(out, fmt.Sprintf("problem %s %s %s", p.Pos, p.Field, p.Code))
	}
	for _, p := range r.Warnings {
		out = append(out, fmt.Sprintf("warning %s %s %s", p.Pos, p.Field, p.Code))
	}
	return out
}

func ids(rs []exemptplan.Report) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	removed, rebind := "Delete "+exID(rg1, "removed")+" | no longer in the files (owner id team)", "Rebind "+exID(s2, "rebind-me")+" | policyAssignmentId: "+aOld+" → "+aNew
	cases := []struct {
		name    string
		entries []desired.Entry
		opts    exemptplan.Options
		want    []string
		// unmanaged, orphaned and expired reports, when checked
		unmanaged, orphaned, expired []string
	}{{
		name:    "in sync; a removed entry is deleted; a recreated assignment re-binds; made elsewhere is reported",
		entries: []desired.Entry{keep(), rebindEntry(aNew)},
		want:    []string{rebind, removed, "NoChange " + exID(rg1, "keep")},
		// "other-team" belongs to another owner id: neither touched nor
		// reported; "outside" is at a scope the files do not cover.
		unmanaged: []string{exID(rg1, "lapsed"), exID(rg1, "portal-made"), exID(s2, "stray")},
		orphaned:  []string{exID(s2, "stray")},
		expired:   []string{exID(rg1, "lapsed")},
	}, {
		name:    "full deletes what was made elsewhere at the scopes the files cover",
		entries: []desired.Entry{keep(), rebindEntry(aNew)},
		opts:    exemptplan.Options{DesiredState: exemptplan.DesiredFull},
		want: []string{rebind,
			"Delete " + exID(rg1, "lapsed") + " | made outside the files",
			"Delete " + exID(rg1, "portal-made") + " | made outside",
			removed,
			"Delete " + exID(s2, "stray") + " | made outside",
			"NoChange " + exID(rg1, "keep")},
		unmanaged: []string{}, orphaned: []string{}, expired: []string{},
	}, {
		name:    "roots: nothing outside them is deleted, not even this owner's",
		entries: []desired.Entry{rebindEntry(aNew)},
		opts:    exemptplan.Options{DesiredState: exemptplan.DesiredFull, Scopes: []string{s2}},
		want:    []string{rebind, "Delete " + exID(s2, "stray")},
	}, {
		name:    "update: one reason per changed field",
		entries: []desired.Entry{keep("expiresOn", "2027-03-01", "displayName", "Accepted", "metadata", "team=web"), rebindEntry(aNew)},
		want: []string{"Update " + exID(rg1, "keep") + ` | expiresOn: 2027-01-01 → 2027-03-01; displayName: (none) → "Accepted"; metadata.team: (none) → "web"`,
			rebind, removed},
	}, {
		name:    "adopt: an entry naming a portal-made exemption only adds ownership",
		entries: []desired.Entry{keep(), rebindEntry(aNew), entry(30, "portal-made", "scope", rg1, "assignment", a1, "category", "mitigated", "metadata", "createdFrom=posture portal")},
		want: []string{"Update " + exID(rg1, "portal-made") + " | adopted: made elsewhere, now owned by the files (owner id team); " +
			`metadata.assignmentDefinitionId: (none) → "` + set + `"; metadata.managedBy: (none) → "posture-code"; metadata.ownerId: (none) → "team"`,
			rebind, removed, "NoChange " + exID(rg1, "keep")},
	}, {
		name:    "a recommendation fans out to every assignment containing it, named by assignment when several",
		entries: []desired.Entry{keep(), rebindEntry(aNew), entry(40, "disk", "scope", rg1, "scope", s2, "recommendation", "Disks should be encrypted")},
		want: slices.Concat(sortedCreates(exID(rg1, fan("disk", a1)), exID(rg1, fan("disk", a2)), exID(s2, "disk")),
			[]string{rebind, removed, "NoChange " + exID(rg1, "keep")}),
	}, {
		name:    "a definition by name fans out to a direct assignment and an initiative",
		entries: []desired.Entry{keep(), rebindEntry(aNew), entry(40, "def-a-everywhere", "scope", s2, "policyDefinitionId", "def-a")},
		want: slices.Concat(sortedCreates(exID(s2, fan("def-a-everywhere", a3)), exID(s2, fan("def-a-everywhere", aNew))),
			[]string{rebind, removed, "NoChange " + exID(rg1, "keep")}),
	}, {
		name:    "an assignment recreated under another id is followed, with a warning to update the file",
		entries: []desired.Entry{keep(), rebindEntry(aOld)},
		want:    []string{rebind, removed, "NoChange " + exID(rg1, "keep"), "warning x.yaml:22:7 assignment AssignmentRecreated"},
	}, {
		name: "problems, each at its entry's field",
		entries: []desired.Entry{
			keep(), rebindEntry(aNew),
			entry(50, "in-notscopes", "scope", rgOut, "recommendation", "key-a"),
			entry(60, "unknown-rec", "scope", rg1, "recommendation", "nope"),
			entry(70, "unknown-assignment", "scope", rg1, "assignment", s1+"/providers/Microsoft.Authorization/policyAssignments/nope"),
			entry(80, "not-assigned", "scope", rg1, "recommendation", "key-c"),
			entry(90, "bad-ref", "scope", rg1, "assignment", a1, "ref", "refZ"),
			entry(100, "gone-scope", "scope", s2+"/resourceGroups/gone", "assignment", aNew),
			entry(110, "reserved", "scope", rg1, "assignment", a1, "metadata", "ownerId=me"),
			entry(120, "other-team", "scope", rg1, "assignment", a1),
			// A name that one entry's fan-out also yields.
			entry(130, fan("disk", a1), "scope", rg1, "assignment", a1),
			entry(140, "disk", "scope", rg1, "recommendation", "key-b"),
			entry(150, "not-under", "scope", rg1, "assignment", a3),
			entry(160, "unknown-def", "scope", rg1, "policySetDefinitionId", "nope"),
		},
		want: slices.Concat(sortedCreates(exID(rg1, fan("disk", a1)), exID(rg1, fan("disk", a2))), []string{rebind, removed, "NoChange " + exID(rg1, "keep"),
			"problem x.yaml:51:7 scopes ScopeInNotScopes",
			"problem x.yaml:62:7 recommendation UnknownRecommendation",
			"problem x.yaml:72:7 assignment UnknownAssignment",
			"problem x.yaml:82:7 recommendation NoAssignment",
			"problem x.yaml:93:7 policyDefinitionReferenceIds[0] UnknownReference",
			"problem x.yaml:101:7 scopes ScopeNotFound",
			"problem x.yaml:113:7 metadata.ownerId ReservedMetadata",
			"problem x.yaml:120:5 name ManagedElsewhere",
			"problem x.yaml:140:5 name DuplicateExemption",
			"problem x.yaml:151:7 scopes ScopeNotUnderAssignment",
			"problem x.yaml:162:7 policySetDefinitionId UnknownDefinition",
		}),
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.OwnerID, opts.Now = "team", now
			r := exemptplan.Plan(tc.entries, estate(), opts)
			got := lines(r)
			ok := len(got) == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tc.want[i])
			}
			if !ok {
				t.Errorf("plan:\n  %s\nwant (prefixes):\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"unmanaged", ids(r.Unmanaged), tc.unmanaged}, {"orphaned", ids(r.Orphaned), tc.orphaned}, {"expired", ids(r.Expired), tc.expired}} {
				if c.want != nil && !slices.Equal(c.got, c.want) {
					t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

// sortedCreates are Create lines in the plan's order (by lower-case id).
func sortedCreates(ids ...string) []string {
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "Create " + id
	}
	return out
}

func TestHygieneAndAdoptable(t *testing.T) {
	orphaned, expired := exemptplan.Hygiene(estate(), "", now)
	if got := ids(orphaned); !slices.Equal(got, []string{exID(s2, "rebind-me"), exID(s2, "stray")}) {
		t.Errorf("orphaned: %q", got)
	}
	for _, r := range orphaned {
		if r.Replacement != aNew {
			t.Errorf("%s: replacement %q", r.ID, r.Replacement)
		}
	}
	if got := ids(expired); !slices.Equal(got, []string{exID(rg1, "lapsed")}) {
		t.Errorf("expired: %q", got)
	}
	// Under mg-a: s1 only (s2 hangs from the root).
	if orphaned, expired := exemptplan.Hygiene(estate(), mgA, now); len(orphaned) != 0 || len(expired) != 1 {
		t.Errorf("under mg-a: %v %v", orphaned, expired)
	}
	adopt, skipped := exemptplan.Adoptable(estate(), mgRoot, now)
	var got []string
	for _, x := range adopt {
		got = append(got, x.ID)
	}
	// Unmanaged, alive and bound: not "keep" (managed), not "lapsed"
	// (expired), not "stray" (orphan).
	if want := []string{exID(s1, "outside"), exID(rg1, "portal-made")}; !slices.Equal(got, want) {
		t.Errorf("adoptable: %q, want %q", got, want)
	}
	if got := ids(skipped); !slices.Equal(got, []string{exID(rg1, "lapsed"), exID(s2, "stray")}) {
		t.Errorf("skipped: %q", got)
	}
}

// TestPlanDeterministic: the order of the estate and of the entries'
// scopes does not change the plan.
func TestPlanDeterministic(t *testing.T) {
	entries := []desired.Entry{keep(), rebindEntry(aNew), entry(40, "disk", "scope", rg1, "scope", s2, "recommendation", "key-b")}
	opts := exemptplan.Options{OwnerID: "team", Now: now, DesiredState: exemptplan.DesiredFull}
	first := lines(exemptplan.Plan(entries, estate(), opts))
	est := estate()
	slices.Reverse(est.Exemptions)
	slices.Reverse(est.Assignments)
	slices.Reverse(entries)
	slices.Reverse(entries[0].Scopes)
	if again := lines(exemptplan.Plan(entries, est, opts)); !slices.Equal(first, again) {
		t.Errorf("plans differ:\n%s\n---\n%s", strings.Join(first, "\n"), strings.Join(again, "\n"))
	}
}

func TestFanNameAndProperties(t *testing.T) {
	long := strings.Repeat("n", 64)
	e := entry(1, long, "scope", rg1, "recommendation", "key-b", "expiresOn", "2027-01-01", "ticket", "CHG-7")
	r := exemptplan.Plan([]desired.Entry{e}, estate(), exemptplan.Options{OwnerID: "team", Now: now})
	var names []string
	for _, a := range r.Actions {
		if a.Kind == exemptplan.Create {
			names = append(names, a.Desired.Name)
		}
	}
	want := []string{strings.Repeat("n", 55) + "-" + fan("", a1)[1:], strings.Repeat("n", 55) + "-" + fan("", a2)[1:]}
	slices.Sort(want)
	slices.Sort(names)
	if !slices.Equal(names, want) || len(names[0]) != 64 {
		t.Fatalf("names %q, want %q (problems %v)", names, want, r.Problems)
	}
	d := r.Actions[0].Desired
	p := d.Properties()
	refs, _ := p["policyDefinitionReferenceIds"].([]string)
	meta, _ := p["metadata"].(map[string]any)
	if !slices.Equal(refs, []string{"refB", "refB2"}) || p["expiresOn"] != "2027-01-01T00:00:00Z" || p["exemptionCategory"] != "Waiver" ||
		meta["ticketRef"] != "CHG-7" || meta["managedBy"] != "posture-code" || meta["ownerId"] != "team" || meta["assignmentDefinitionId"] != set {
		t.Errorf("properties: %v", p)
	}
}
