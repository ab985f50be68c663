package kql

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// astOptions compare trees structurally: positions and the kept source text
// do not matter.
var astOptions = cmp.Options{
	cmp.AllowUnexported(Value{}, Dyn{}, Query{}),
	cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".P", ".text":
			return true
		}
		return false
	}, cmp.Ignore()),
}

// corpusQueries returns every query of the script corpus and the real set.
func corpusQueries(t testing.TB) []string {
	var out []string
	for _, c := range loadScripts(t) {
		out = append(out, c.query)
	}
	for _, rq := range loadRealQueries(t) {
		out = append(out, rq.text)
	}
	return out
}

// TestPrintRoundTrip: printing a parsed query and parsing the output gives
// the same tree, for every corpus query that parses.
func TestPrintRoundTrip(t *testing.T) {
	n := 0
	for _, text := range corpusQueries(t) {
		q, err := Parse(text, ParseOptions{Superset: true})
		if err != nil {
			continue
		}
		n++
		printed := q.String()
		q2, err := Parse(printed, ParseOptions{Superset: true})
		if err != nil {
			t.Errorf("re-parse failed: %v\noriginal:\n%s\nprinted:\n%s", err, text, printed)
			continue
		}
		if d := cmp.Diff(q, q2, astOptions); d != "" {
			t.Errorf("round trip changed the tree (-orig +reparsed):\n%s\nprinted:\n%s", d, printed)
		}
	}
	if n < 200 {
		t.Fatalf("only %d corpus queries parsed", n)
	}
}

func TestParseErrorsArePositionedAndAccumulated(t *testing.T) {
	q := "Resources\n| where name ==\n| project x = \n| extend y = 1"
	_, err := Parse(q, ParseOptions{})
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %v", err, err)
	}
	if e.Code != CodeParserFailure || e.Line != 3 || e.Column != 1 {
		t.Fatalf("first error at %d:%d code %s: %v", e.Line, e.Column, e.Code, e)
	}
	if len(e.Details) != 2 || e.Details[1].Line != 4 {
		t.Fatalf("want 2 accumulated errors, second on line 4; got %+v", e.Details)
	}
}

func TestParseColumnsCountRunes(t *testing.T) {
	// The error is after a multi-byte character: columns count characters.
	_, err := Parse("datatable(s:string)[\"é\"] | where ==", ParseOptions{})
	e := err.(*Error)
	if e.Line != 1 || e.Column != 34 {
		t.Fatalf("got %d:%d (%v)", e.Line, e.Column, e)
	}
}

func TestParseTraps(t *testing.T) {
	cases := map[string]string{
		"nbsp":           "Resources\u00a0|\u00a0where name == 'x'",
		"narrow nbsp":    "Resources\u202f| where name == 'x'",
		"zero width":     "Resources\u200b| where\u200bname == 'x'",
		"in~(":           "Resources | where name in~('a','b')",
		"!in~(":          "Resources | where name !in~('a')",
		"member bracket": "Resources | project a = properties.['odata.type'], b = properties.[\"Key\"]",
		"bracket name":   "Resources | extend ['a b'] = 1 | summarize count() by ['a b']",
		"verbatim":       "Resources | where name matches regex @'\\d+'",
		"datatable leg":  "datatable(ResourceId:string)[\"All\"] | union (Resources | project ResourceId = id)",
		"bagexpansion":   "Resources | mv-expand bagexpansion=array tags",
		"now offset":     "Resources | where todatetime(properties.x) < now(+90d)",
		"left right":     "Resources | join kind=leftouter (ResourceContainers | project sid = subscriptionId) on $left.subscriptionId == $right.sid",
		"typeof":         "Resources | mv-expand z = zones to typeof(string)",
		"typed capture":  "Resources | parse name with * '-' n:long",
		"implicit table": "where type =~ 'x' | project name",
	}
	for name, text := range cases {
		q, err := Parse(text, ParseOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if q.Body == nil || q.Body.Source == nil {
			t.Errorf("%s: empty tree", name)
		}
	}
	q, _ := Parse("where type =~ 'x'", ParseOptions{})
	if tr, ok := q.Body.Source.(*TableRef); !ok || tr.Name != "Resources" || !tr.Implicit {
		t.Fatalf("implicit source: %#v", q.Body.Source)
	}
	if !strings.HasPrefix(q.String(), "where") {
		t.Fatalf("printer shows the implicit table: %q", q.String())
	}
}

func TestLetStrictAndSuperset(t *testing.T) {
	if _, err := Parse("let x = 1; Resources", ParseOptions{}); ErrorCode(err) != CodeUnsupportedLet {
		t.Fatalf("strict: %v", err)
	}
	q, err := Parse("let x = 1; let T = Resources | take 1; T", ParseOptions{Superset: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Lets) != 2 || q.Lets[0].Scalar == nil || q.Lets[1].Tabular == nil {
		t.Fatalf("lets: %+v", q.Lets)
	}
}

func TestParseRejectsHugeInput(t *testing.T) {
	_, err := Parse(strings.Repeat("(", MaxQueryLength+1), ParseOptions{})
	if ErrorCode(err) != CodeParserFailure {
		t.Fatalf("%v", err)
	}
	_, err = Parse("Resources | where "+strings.Repeat("(", 10000)+"1", ParseOptions{})
	if ErrorCode(err) != CodeParserFailure {
		t.Fatalf("deep nesting: %v", err)
	}
}
