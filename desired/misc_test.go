package desired_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/desired"
)

func TestProblemText(t *testing.T) {
	for _, c := range []struct {
		pos  desired.Pos
		want string
	}{
		{desired.Pos{File: "f.yaml", Line: 12, Column: 5}, "f.yaml:12:5"},
		{desired.Pos{File: "f.yaml", Line: 3}, "f.yaml:3"},
		{desired.Pos{File: "f.yaml"}, "f.yaml"},
	} {
		if got := c.pos.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.pos, got, c.want)
		}
	}
	p := desired.Problem{Pos: desired.Pos{File: "f.yaml", Line: 12, Column: 5}, Field: "exemptions[3].expiresOn", Code: "ExpiryInPast", Message: "Too late."}
	if got, want := p.Error(), "f.yaml:12:5: exemptions[3].expiresOn: ExpiryInPast: Too late."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	p.Field = ""
	if got, want := p.Error(), "f.yaml:12:5: ExpiryInPast: Too late."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := desired.Problems(nil).Err(); err != nil {
		t.Errorf("no problems: Err() = %v", err)
	}
	err := desired.Problems{p, p}.Err()
	var got desired.Problem
	if err == nil || !errors.As(err, &got) || got != p || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("Err() = %v", err)
	}
}

// codes parses data as file and returns "line:column field code" of each
// problem.
func codes(t *testing.T, file, data string) []string {
	t.Helper()
	_, probs := desired.Parse(file, []byte(data), now)
	var out []string
	for _, p := range probs {
		out = append(out, problemKey(p))
	}
	return out
}

func expectCodes(t *testing.T, file, data string, want ...string) {
	t.Helper()
	got := codes(t, file, data)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\ngot  %q\nwant %q", file, data, got, want)
	}
}

const okEntry = "name: a\n    category: Waiver\n    scope: /subscriptions/s\n    recommendation: r"

func TestParseFiles(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "a.yaml")
	second := filepath.Join(dir, "b.csv")
	os.WriteFile(first, []byte("exemptions:\n  - name: shared\n    category: Waiver\n    scope: /subscriptions/S1\n    recommendation: r\n"), 0o600)
	os.WriteFile(second, []byte("name,displayName,exemptionCategory,scopes,assignmentReferenceId\nother,x,Waiver,/subscriptions/s2,policyDefinitions/p\nSHARED,x,Waiver,/subscriptions/s2&/subscriptions/s1,policyDefinitions/p\n"), 0o600)
	missing := filepath.Join(dir, "missing.yaml")
	entries, probs := desired.ParseFiles([]string{first, second, missing}, now)
	if len(entries) != 3 {
		t.Errorf("got %d entries, want 3", len(entries))
	}
	if len(probs) != 2 {
		t.Fatalf("problems:\n%v", probs.Err())
	}
	dup := probs[0]
	if dup.Pos != (desired.Pos{File: second, Line: 3, Column: 1}) || dup.Code != desired.CodeDuplicateName ||
		dup.Field != "exemptions[1].name" || !strings.Contains(dup.Message, first+":2:11") {
		t.Errorf("duplicate: %v", dup)
	}
	if read := probs[1]; read.Pos.File != missing || read.Code != desired.CodeReadError {
		t.Errorf("missing file: %v", read)
	}
}

func TestLimits(t *testing.T) {
	big := make([]byte, desired.MaxFileSize+1)
	expectCodes(t, "big.yaml", string(big), "1:1 - FileTooLarge")

	many := "exemptions: [" + strings.Repeat("{},", desired.MaxEntries) + "{}]"
	expectCodes(t, "many.yaml", many, "1:13 exemptions TooManyEntries")
}

func TestSyntaxPositions(t *testing.T) {
	// The surrogate pair is rewritten for the YAML parser; what follows on
	// the line keeps its column.
	line := `{"exemptions": [{"name": "\ud83d\ude00", "categry": "Waiver"}]}`
	expectCodes(t, "s.json", line,
		"1:17 exemptions[0].category MissingField", "1:17 exemptions[0] MissingField", "1:17 exemptions[0] MissingField",
		fmt.Sprintf("1:%d exemptions[0].categry UnknownField", strings.Index(line, `"categry"`)+1))
	// Tabs and CRLF in JSON; a comment and a trailing comma in JSONC.
	expectCodes(t, "t.jsonc", "{\r\n\t\"exemptions\": [\r\n\t\t{\"nme\": 1}, // c\r\n\t],\r\n}",
		"3:3 exemptions[0].name MissingField", "3:3 exemptions[0].category MissingField",
		"3:3 exemptions[0] MissingField", "3:3 exemptions[0] MissingField", "3:4 exemptions[0].nme UnknownField")
	expectCodes(t, "u.yaml", "exemptions: []\n# caf\xe9\n", "2:6 - InvalidEncoding") // the sixth character of "# café"
	expectCodes(t, "a.yaml", "x: &a [1]\nexemptions:\n  - *a\n", "1:1 x UnknownField", "3:5 exemptions[0] UnsupportedYAML")
	expectCodes(t, "a.yaml", "exemptions:\n  - <<: {name: a}\n", "2:5 exemptions[0] UnsupportedYAML",
		"2:5 exemptions[0].name MissingField", "2:5 exemptions[0].category MissingField", "2:5 exemptions[0] MissingField", "2:5 exemptions[0] MissingField")
	expectCodes(t, "m.yaml", "exemptions: []\n---\nexemptions: []\n", "2:1 - UnsupportedYAML") // where the second document starts
}

func TestEmptyAndTopLevel(t *testing.T) {
	expectCodes(t, "e.yaml", "exemptions: []\n")
	expectCodes(t, "e.yaml", "exemptions:\n")
	expectCodes(t, "e.json", "{}", "1:1 exemptions MissingField")
	expectCodes(t, "e.json", "  \n", "1:1 - EmptyFile")
	expectCodes(t, "e.json", "// nothing\n", "1:1 - EmptyFile")
	expectCodes(t, "e.yaml", "exemptions: {}\n", "1:13 exemptions WrongType")
	expectCodes(t, "e.csv", "name,displayName,exemptionCategory,scope,policyAssignmentId\n")
	expectCodes(t, "e.csv", "name,scope\na,/subscriptions/s\n",
		"1:1 displayName MissingField", "1:1 exemptionCategory MissingField", "1:1 assignmentReferenceId MissingField")
}

func TestDetect(t *testing.T) {
	// No $schema, EPAC's names: read as EPAC (displayName required).
	expectCodes(t, "d.json", `{"exemptions": [{"name": "a", "exemptionCategory": "Waiver", "scope": "/subscriptions/s", "policyDefinitionName": "p"}]}`,
		"1:17 exemptions[0].displayName MissingField")
	// EPAC allows DoNotValidate only with an assignment.
	noValidate := `{"exemptions": [{"name": "a", "displayName": "A", "exemptionCategory": "Waiver", "scope": "/subscriptions/s", "policyDefinitionName": "p", "assignmentScopeValidation": "DoNotValidate"}]}`
	expectCodes(t, "d.json", noValidate,
		fmt.Sprintf("1:%d exemptions[0].assignmentScopeValidation InvalidAssignmentScopeValidation", strings.Index(noValidate, `"DoNotValidate"`)+1))
	// posture's names: posture (displayName optional).
	expectCodes(t, "d.json", `{"exemptions": [{"name": "a", "category": "Waiver", "scope": "/subscriptions/s", "policyDefinitionName": "p"}]}`)
}

func TestUnknownFieldMessages(t *testing.T) {
	for _, c := range []struct{ file, data, want string }{
		{"p.yaml", "exemptions:\n  - DisplayName: x\n", "Did you mean 'displayName'?"},
		{"p.yaml", "exemptions:\n  - exemptionCategory: Waiver\n    category: Waiver\n", "posture files call it 'category'"},
		{"p.json", `{"$schema": "policy-exemption-schema.json", "exemptions": [{"category": "Waiver"}]}`, "EPAC calls it 'exemptionCategory'"},
		{"p.json", `{"$schema": "policy-exemption-schema.json", "exemptions": [{"expiresInDays": 3}]}`, "Get-AzExemptions"},
		{"p.yaml", "exemption: []\n", "Did you mean 'exemptions'?"},
		{"p.csv", "name,policyDefinitionName\n", "in the column assignmentReferenceId"},
	} {
		_, probs := desired.Parse(c.file, []byte(c.data), now)
		if len(probs) == 0 || !strings.Contains(probs.Error(), c.want) {
			t.Errorf("%s: %q: problems %v, want one mentioning %q", c.file, c.data, probs, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	data := "defaults:\n  expiresOn: 2026-01-01\n  category: Waiver\nexemptions:\n  - " + okEntry + "\n  - " + strings.Replace(okEntry, "name: a", "name: b", 1) + "\n"
	// The past default is reported once, where it is written.
	expectCodes(t, "d.yaml", data, "2:14 defaults.expiresOn ExpiryInPast")

	noCategory := strings.Replace(okEntry, "category: Waiver", "ticket: T-1", 1)
	entries, _ := desired.Parse("d.yaml", []byte("defaults:\n  metadata: {a: 1, b: 2}\n  category: mitigated\nexemptions:\n  - "+noCategory+"\n    metadata: {b: 3, c: 4}\n"), now)
	if len(entries) != 1 || entries[0].Category != desired.Mitigated ||
		fmt.Sprint(entries[0].Metadata) != "map[a:1 b:3 c:4]" {
		t.Errorf("defaults not applied: %+v", entries)
	}
}

func TestExpiry(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		code string
	}{
		{"2027-01-31", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), ""},
		{"2027-01-31T17:00:00Z", time.Date(2027, 1, 31, 17, 0, 0, 0, time.UTC), ""},
		{"2027-01-31T17:00:00+01:00", time.Date(2027, 1, 31, 16, 0, 0, 0, time.UTC), ""},
		{"2027-01-31T17:00:00", time.Date(2027, 1, 31, 17, 0, 0, 0, time.UTC), ""},
		{"'2027-01-31T17:00:00.1234567891Z'", time.Date(2027, 1, 31, 17, 0, 0, 123456000, time.UTC), ""},
		{"2026-11-25", time.Time{}, "ExpiryInPast"}, // now is 00:00 that day: expired
		{"2026-11-25T00:00:01Z", time.Date(2026, 11, 25, 0, 0, 1, 0, time.UTC), ""},
		{"31/01/2027", time.Time{}, "InvalidExpiresOn"},
		{"10000-01-01", time.Time{}, "InvalidExpiresOn"},
		{"''", time.Time{}, ""}, // empty: never expires
	} {
		entries, probs := desired.Parse("x.yaml", []byte("exemptions:\n  - "+okEntry+"\n    expiresOn: "+c.in+"\n"), now)
		switch {
		case c.code != "":
			if len(probs) != 1 || probs[0].Code != c.code || probs[0].Field != "exemptions[0].expiresOn" {
				t.Errorf("%s: problems %v, want %s", c.in, probs, c.code)
			}
		case len(probs) > 0:
			t.Errorf("%s: %v", c.in, probs)
		case !entries[0].ExpiresOn.Equal(c.want) || entries[0].ExpiresOn.Location() != time.UTC:
			t.Errorf("%s: ExpiresOn = %v, want %v", c.in, entries[0].ExpiresOn, c.want)
		}
	}
}

func TestValues(t *testing.T) {
	entry := func(extra string) string {
		return "exemptions:\n  - name: a\n    category: Waiver\n" + extra
	}
	expectCodes(t, "v.yaml", entry("    scope: /\n    recommendation: r\n"), "4:12 exemptions[0].scope InvalidScope")
	expectCodes(t, "v.yaml", entry("    scope: /subscriptions/*\n    recommendation: r\n"), "4:12 exemptions[0].scope InvalidScope")
	expectCodes(t, "v.yaml", entry("    scopes: [/subscriptions/s, /SUBSCRIPTIONS/S]\n    recommendation: r\n"),
		"4:32 exemptions[0].scopes[1] DuplicateScope")
	expectCodes(t, "v.yaml", entry("    scope: /subscriptions/s\n    recommendation: a b\n"),
		"5:21 exemptions[0].recommendation InvalidRecommendation")
	expectCodes(t, "v.yaml", entry("    scope: /subscriptions/s\n    policyDefinitionId: /subscriptions/s/providers/Microsoft.Authorization/policyAssignments/x\n"),
		"5:25 exemptions[0].policyDefinitionId InvalidPolicyDefinition")
	expectCodes(t, "v.yaml", entry("    scope: /subscriptions/s\n    recommendation: r\n    displayName: "+strings.Repeat("x", 129)+"\n"),
		"6:18 exemptions[0].displayName TooLong")
	expectCodes(t, "v.yaml", entry("    scope: /subscriptions/s\n    recommendation: r\n    metadata: {n: .inf}\n"),
		"6:19 exemptions[0].metadata.n WrongType")

	entries, _ := desired.Parse("v.yaml", []byte(entry("    scope: /SUBSCRIPTIONS/s//resourcegroups/rg\n    recommendation: /providers/microsoft.authorization/policydefinitions/x\n")), now)
	if e := entries[0]; e.Scopes[0] != "/subscriptions/s/resourceGroups/rg" ||
		e.Recommendation != "/providers/microsoft.authorization/policydefinitions/x" {
		t.Errorf("ids not canonical: %q %q", e.Scopes, e.Recommendation)
	}
}

// TestManyKeys crosses keySet's switch from a scan to a map.
func TestManyKeys(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "k%d: %d, ", i, i)
	}
	b.WriteString("k35: again")
	data := "exemptions:\n  - " + okEntry + "\n    metadata: {" + b.String() + "}\n"
	got := codes(t, "k.yaml", data)
	if len(got) != 1 || !strings.HasSuffix(got[0], "exemptions[0].metadata.k35 DuplicateField") {
		t.Errorf("got %q", got)
	}
}
