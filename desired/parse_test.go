package desired_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/desired"
)

// now is the clock of every test: the fixtures' expiries are after it.
var now = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

const (
	sub1 = "/subscriptions/00000000-0000-0000-0000-000000000001"
	sub2 = "/subscriptions/00000000-0000-0000-0000-000000000002"
	sub4 = "/subscriptions/00000000-0000-0000-0000-000000000004"
	sub5 = "/subscriptions/00000000-0000-0000-0000-000000000005"
	sub7 = "/subscriptions/00000000-0000-0000-0000-000000000007"
	sub8 = "/subscriptions/00000000-0000-0000-0000-000000000008"
)

// goodFiles are the expected entries of testdata/good, written from the
// files and the format rules (defaults fill gaps, bare dates are 00:00
// UTC, categories canonical, ids canonical, names as given).
var goodFiles = map[string][]desired.Entry{
	"posture.yaml": {
		{
			Pos: desired.Pos{Line: 12, Column: 5}, Index: 0,
			Name: "storage-public-dev", DisplayName: "Dev storage is public by design",
			Description: "Static website for docs; no data.", Category: desired.Waiver,
			Scopes:         []string{sub1 + "/resourceGroups/rg-dev"},
			Recommendation: "6c9a1d6c-0000-4000-8000-000000000001",
			ExpiresOn:      day(2027, 1, 31), Owner: "secops@contoso.com", Ticket: "42",
			Metadata: map[string]any{"team": "web", "reviewed": "2026-11-01", "cost": json.Number("1.50")},
		},
		{
			Pos: desired.Pos{Line: 23, Column: 5}, Index: 1,
			Name: "sql-audit-mitigated", Category: desired.Mitigated,
			Scopes:       []string{"/providers/Microsoft.Management/managementGroups/mg-prod", sub2},
			Assignment:   "/providers/Microsoft.Management/managementGroups/mg-root/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn",
			ReferenceIDs: []string{"sqlAuditing", "sqlThreatDetection"},
			ExpiresOn:    time.Date(2027, 6, 30, 10, 0, 0, 0, time.UTC), Owner: "dba@contoso.com",
			AssignmentScopeValidation: "DoNotValidate",
			ResourceSelectors:         json.RawMessage(`[{"name":"only-west","selectors":[{"kind":"resourceLocation","in":["westeurope"]}]}]`),
			Metadata:                  map[string]any{"team": "platform", "reviewed": "2026-11-01"},
		},
		{
			Pos: desired.Pos{Line: 41, Column: 5}, Index: 2,
			Name: "vm-backup-waiver", Category: desired.Waiver,
			Scopes:             []string{"/subscriptions/00000000-0000-0000-0000-000000000003/resourceGroups/rg-batch/providers/Microsoft.Compute/virtualMachines/vm-1"},
			PolicyDefinitionID: "require-vm-backup",
			ResourceFilter:     json.RawMessage(`{"tags":{"env":"batch"}}`),
			History:            json.RawMessage(`[{"at":"2026-10-01T09:00:00Z","by":"alice@contoso.com","action":"Created"}]`),
			Owner:              "secops@contoso.com",
			Metadata:           map[string]any{"team": "platform", "reviewed": "2026-11-01"},
		},
	},
	"posture.json": {
		{
			Pos: desired.Pos{Line: 4, Column: 5}, Index: 0,
			Name: "kv-soft-delete", DisplayName: "Key vault soft delete handled by backup",
			Category: desired.Waiver, Scopes: []string{sub4},
			PolicyDefinitionID: "/providers/Microsoft.Authorization/policyDefinitions/1e66c121-a66a-4b1f-9b83-0fd99bf0fc2d",
			ExpiresOn:          day(2027, 3, 1), Ticket: "CHG-7",
			Metadata: map[string]any{"big": json.Number("12345678901234567890"), "nested": map[string]any{"list": []any{true, nil, "x"}}},
		},
		{
			Pos: desired.Pos{Line: 13, Column: 5}, Index: 1,
			Name: "asb-set", Category: desired.Mitigated, Scopes: []string{sub4 + "/resourceGroups/RG-Net"},
			PolicySetDefinitionID: "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8",
			ReferenceIDs:          []string{"networkWatcher"},
		},
	},
	"epac.jsonc": {
		{
			Pos: desired.Pos{Line: 5, Column: 9}, Index: 0,
			Name: "epac-by-definition", DisplayName: "Built-in policy by id, at two scopes", Category: desired.Waiver,
			Scopes:             []string{sub5, "/subscriptions/00000000-0000-0000-0000-000000000006/resourceGroups/rg-1"},
			PolicyDefinitionID: "/providers/microsoft.authorization/policyDefinitions/00000000-0000-0000-0000-0000000000aa",
		},
		{
			Pos: desired.Pos{Line: 17, Column: 9}, Index: 1,
			Name: "epac-by-assignment", DisplayName: "Assignment, two policies \U0001F600", Category: desired.Mitigated,
			ExpiresOn:                 time.Date(2027, 12, 31, 23, 59, 59, 123456000, time.UTC),
			Scopes:                    []string{"/providers/Microsoft.Management/managementGroups/corp"},
			Assignment:                "/providers/Microsoft.Management/managementGroups/corp/providers/Microsoft.Authorization/policyAssignments/asb",
			ReferenceIDs:              []string{"ref-1", "ref-2"},
			AssignmentScopeValidation: "Default",
			ResourceSelectors:         json.RawMessage(`[{"name":"rs","selectors":[{"kind":"resourceType","notIn":["Microsoft.Sql/servers"]}]}]`),
			Metadata:                  map[string]any{"deployedBy": "epac/abc/tenant", "reason": "compensating control"},
		},
		{
			Pos: desired.Pos{Line: 29, Column: 9}, Index: 2,
			Name: "epac-by-set-name", DisplayName: "Custom initiative by name", Category: desired.Waiver,
			Scopes: []string{sub5}, PolicySetDefinitionID: "org-security-baseline",
		},
	},
	"epac.csv": {
		{
			Pos: desired.Pos{Line: 2, Column: 1}, Index: 0,
			Name: "csv-definition-name", DisplayName: "Custom policy by name", Category: desired.Waiver,
			ExpiresOn: day(2027, 1, 31), Scopes: []string{sub7, sub8}, PolicyDefinitionID: "deny-public-ip",
		},
		{
			Pos: desired.Pos{Line: 3, Column: 1}, Index: 1,
			Name: "csv-legacy-assignment", DisplayName: "Legacy column, quoted", Description: "Uses policyAssignmentId",
			Category: desired.Mitigated, Scopes: []string{sub7},
			Assignment:                sub7 + "/providers/Microsoft.Authorization/policyAssignments/pa-1",
			ReferenceIDs:              []string{"ref-a", "ref-b"},
			Metadata:                  map[string]any{"owner": "bob", "n": json.Number("3")},
			AssignmentScopeValidation: "DoNotValidate",
		},
		{
			Pos: desired.Pos{Line: 5, Column: 1}, Index: 2,
			Name: "csv-set-id", DisplayName: "Built-in initiative by id", Description: "Two\nlines", Category: desired.Waiver,
			ExpiresOn: time.Date(2027, 2, 1, 8, 30, 0, 0, time.UTC), Scopes: []string{sub8 + "/resourceGroups/rg-x"},
			PolicySetDefinitionID: "/providers/Microsoft.Authorization/policySetDefinitions/00000000-0000-0000-0000-0000000000bb",
			ReferenceIDs:          []string{"networkWatcher"},
			ResourceSelectors:     json.RawMessage(`[{"name":"rs","selectors":[{"kind":"resourceLocation","in":["eastus"]}]}]`),
		},
		{
			Pos: desired.Pos{Line: 7, Column: 1}, Index: 3,
			Name: "csv-assignment-ref", DisplayName: "Assignment via assignmentReferenceId", Category: desired.Waiver,
			Scopes: []string{sub8}, Assignment: sub8 + "/providers/Microsoft.Authorization/policyAssignments/pa-2",
		},
	},
}

func TestParseGood(t *testing.T) {
	for name, want := range goodFiles {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("testdata", "good", name)
			got, probs := parseFile(t, file)
			if err := probs.Err(); err != nil {
				t.Fatalf("problems:\n%v", err)
			}
			for i := range want {
				want[i].Pos.File = file
			}
			compare(t, got, want, true)
		})
	}
}

// TestParseFields checks a few of the positions Entry.Fields records,
// including values taken from defaults.
func TestParseFields(t *testing.T) {
	file := filepath.Join("testdata", "good", "posture.yaml")
	got, _ := parseFile(t, file)
	for _, c := range []struct {
		entry        int
		field        string
		line, column int
	}{
		{0, "name", 12, 11},
		{0, "owner", 4, 10}, // from defaults
		{0, "expiresOn", 18, 16},
		{1, "scopes", 26, 7},
		{1, "scopes[1]", 27, 9},
		{1, "policyDefinitionReferenceIds[1]", 29, 49},
		{1, "metadata", 6, 5}, // from defaults: where its value starts
		{2, "policyDefinitionId", 44, 27},
	} {
		want := desired.Pos{File: file, Line: c.line, Column: c.column}
		if p, ok := got[c.entry].Fields[c.field]; !ok || p != want {
			t.Errorf("exemptions[%d] Fields[%q] = %v (%v), want %v", c.entry, c.field, p, ok, want)
		}
	}
}

func TestParseBad(t *testing.T) {
	wants, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.want"))
	if len(wants) == 0 {
		t.Fatal("no fixtures")
	}
	for _, w := range wants {
		file := strings.TrimSuffix(w, ".want")
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := readWant(t, w)
			_, probs := parseFile(t, file)
			var got []string
			for _, p := range probs {
				if p.Pos.File != file || p.Message == "" {
					t.Errorf("problem %v: wrong file or no message", p)
				}
				got = append(got, problemKey(p))
			}
			if !slices.IsSortedFunc(probs, func(a, b desired.Problem) int {
				return cmpPos(a.Pos, b.Pos)
			}) {
				t.Errorf("problems are not sorted:\n%v", probs)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("problems:\n%v\n\ngot  %q\nwant %q", probs, got, want)
			}
		})
	}
}

func cmpPos(a, b desired.Pos) int {
	if a.Line != b.Line {
		return a.Line - b.Line
	}
	return a.Column - b.Column
}

func problemKey(p desired.Problem) string {
	field := p.Field
	if field == "" {
		field = "-"
	}
	return fmt.Sprintf("%d:%d %s %s", p.Pos.Line, p.Pos.Column, field, p.Code)
}

// readWant reads a .want file: "line:column field code" lines, # comments.
func readWant(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func parseFile(t *testing.T, file string) ([]desired.Entry, desired.Problems) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return desired.Parse(file, data, now)
}

// compare compares entries; Fields only when withPos is false, never
// (they are checked in TestParseFields), Pos and Index when withPos.
func compare(t *testing.T, got, want []desired.Entry, withPos bool) {
	t.Helper()
	strip := func(es []desired.Entry) []desired.Entry {
		out := slices.Clone(es)
		for i := range out {
			out[i].Fields = nil
			if !withPos {
				out[i].Pos, out[i].Index = desired.Pos{}, 0
			}
		}
		return out
	}
	g, w := strip(got), strip(want)
	if len(g) != len(w) {
		t.Fatalf("got %d entries, want %d:\n%s", len(g), len(w), show(g))
	}
	for i := range w {
		if !reflect.DeepEqual(g[i], w[i]) {
			t.Errorf("entry %d:\ngot  %s\nwant %s", i, show(g[i]), show(w[i]))
		}
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
