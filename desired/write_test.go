package desired_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/desired"
)

// roundTrip writes entries, parses the output and returns what it read,
// failing on any problem.
func roundTrip(t testing.TB, entries []desired.Entry) ([]desired.Entry, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := desired.Write(&buf, entries); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, probs := desired.Parse("out.yaml", buf.Bytes(), now)
	if err := probs.Err(); err != nil {
		t.Fatalf("Parse(Write(x)):\n%v\n\n%s", err, buf.Bytes())
	}
	return got, buf.Bytes()
}

// sorted returns entries in Write's order: by name, then scopes.
func sorted(entries []desired.Entry) []desired.Entry {
	out := slices.Clone(entries)
	slices.SortStableFunc(out, func(a, b desired.Entry) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(strings.ToLower(strings.Join(a.Scopes, "\n")), strings.ToLower(strings.Join(b.Scopes, "\n"))))
	})
	return out
}

func TestWriteRoundTrip(t *testing.T) {
	for name, want := range goodFiles {
		t.Run(name, func(t *testing.T) {
			got, out := roundTrip(t, want)
			compare(t, got, sorted(want), false)
			// Writing what was read gives the same bytes.
			if _, again := roundTrip(t, got); !bytes.Equal(out, again) {
				t.Errorf("Write is not stable:\n%s\n---\n%s", out, again)
			}
		})
	}
}

// TestWriteRoundTripOddValues covers values YAML would read as something
// else if written plainly.
func TestWriteRoundTripOddValues(t *testing.T) {
	odd := []string{"42", "true", "null", "~", "1e400", "0x1F", "2027-01-31", "  lead", "trail  ",
		"multi\nline\n", "a: b", "# not a comment", "tab\there", "-", "[x]", "x\u2028y", "quote\"s", "yes", "é😀"}
	var entries []desired.Entry
	for i, s := range odd {
		entries = append(entries, desired.Entry{
			Name: "odd-" + string(rune('a'+i)), DisplayName: s, Description: s, Owner: s, Ticket: s,
			Category: desired.Waiver, Scopes: []string{sub1}, Recommendation: "rec",
			ExpiresOn: time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC),
			Metadata: map[string]any{s: s, "n": json.Number("1e400"), "big": json.Number("-12345678901234567890.5"),
				"list": []any{s, json.Number("0"), false, nil, map[string]any{}}},
			ResourceSelectors: json.RawMessage(`[{"name":` + quote(s) + `,"z":1,"a":[]}]`),
			ResourceFilter:    json.RawMessage(`{"z":{"` + "k" + `":` + quote(s) + `},"a":-0.5e-3}`),
			History:           json.RawMessage(`[]`),
		})
	}
	got, out := roundTrip(t, entries)
	compare(t, got, sorted(entries), false)
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// quote is s as a JSON string in Parse's spelling, which keeps U+2028 and
// <>& literal where encoding/json escapes them.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.ReplaceAll(strings.TrimSpace(b.String()), `\u2028`, "\u2028")
}

func TestWriteShape(t *testing.T) {
	entries := []desired.Entry{
		{Name: "b", Category: desired.Waiver, Scopes: []string{sub2}, PolicyDefinitionID: "custom-def",
			ExpiresOn: day(2027, 1, 31)},
		{Name: "a", Category: desired.Mitigated, Scopes: []string{sub1, sub2}, Assignment: sub1 + "/providers/Microsoft.Authorization/policyAssignments/x",
			ReferenceIDs: []string{"r"}, Metadata: map[string]any{"z": "1", "a": json.Number("2")}},
	}
	var buf bytes.Buffer
	if err := desired.Write(&buf, entries); err != nil {
		t.Fatal(err)
	}
	want := `exemptions:
  - name: a
    category: Mitigated
    scopes:
      - /subscriptions/00000000-0000-0000-0000-000000000001
      - /subscriptions/00000000-0000-0000-0000-000000000002
    assignment: /subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/policyAssignments/x
    policyDefinitionReferenceIds:
      - r
    metadata:
      a: 2
      z: "1"
  - name: b
    category: Waiver
    scope: /subscriptions/00000000-0000-0000-0000-000000000002
    policyDefinitionName: custom-def
    expiresOn: 2027-01-31T00:00:00Z
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteInvalidJSON(t *testing.T) {
	err := desired.Write(&bytes.Buffer{}, []desired.Entry{{Name: "x", ResourceFilter: json.RawMessage(`{"a":`)}})
	if err == nil || !strings.Contains(err.Error(), "resourceFilter") {
		t.Errorf("Write of invalid JSON: %v", err)
	}
}
