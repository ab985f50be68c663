package automation_test

import (
	"fmt"
	"testing"

	"github.com/posture/posture/automation"
)

// event is an assessment-like document with values of every JSON type.
const event = `{
	"id":"/subscriptions/` + sub + `/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.Security/assessments/4fb67663-9ab9-475d-b026-8c544cced439",
	"name":"4fb67663-9ab9-475d-b026-8c544cced439",
	"type":"Microsoft.Security/assessments",
	"properties":{
		"status":{"code":"Unhealthy"},
		"metadata":{"severity":"High","preview":false},
		"score":{"current":28.5,"max":39,"percentage":0.7308},
		"count":7,"countText":"7","flag":"true","nothing":null,
		"tags":["a","b"],
		"resourceDetails":{"source":"Azure","id":"/a","Id":"/b"}}}`

// The rule semantics of the spec: String comparisons ignore case
// (AutomationTriggeringRule.operator: "A case-insensitive comparison will
// be applied for String PropertyType"); the ordering operators apply to
// decimal operands only, Contains/StartsWith/EndsWith to non-decimal ones
// only (2023-12-01-preview operator descriptions). The rest is posture's,
// documented in rules.go: missing or null values never match, with any
// operator; numbers compare numerically; booleans read true/false in any
// case.
func TestRuleMatrix(t *testing.T) {
	for _, tc := range []struct {
		path, typ, op, expected string
		want                    bool
	}{
		// String
		{"properties.status.code", "String", "Equals", "unhealthy", true},
		{"properties.status.code", "String", "Equals", "Healthy", false},
		{"properties.status.code", "String", "NotEquals", "Healthy", true},
		{"properties.status.code", "String", "NotEquals", "UNHEALTHY", false},
		{"properties.status.code", "String", "Contains", "HEAL", true},
		{"properties.status.code", "String", "Contains", "sick", false},
		{"properties.status.code", "String", "StartsWith", "unh", true},
		{"properties.status.code", "String", "StartsWith", "hea", false},
		{"properties.status.code", "String", "EndsWith", "THY", true},
		{"properties.status.code", "String", "EndsWith", "un", false},
		{"properties.status.code", "String", "GreaterThan", "A", false}, // ordering is for decimal operands
		{"properties.count", "String", "Equals", "7", true},             // a number's JSON text
		{"properties.metadata.preview", "String", "Equals", "FALSE", true},
		{"properties.status", "String", "Equals", "", false}, // an object has no text
		{"type", "String", "Contains", "Microsoft.Security/assessments", true},
		// Integer
		{"properties.count", "Integer", "Equals", "7", true},
		{"properties.count", "Integer", "NotEquals", "8", true},
		{"properties.count", "Integer", "NotEquals", "7", false},
		{"properties.count", "Integer", "GreaterThan", "6", true},
		{"properties.count", "Integer", "GreaterThan", "7", false},
		{"properties.count", "Integer", "GreaterThanOrEqualTo", "7", true},
		{"properties.count", "Integer", "LesserThan", "8", true},
		{"properties.count", "Integer", "LesserThan", "7", false},
		{"properties.count", "Integer", "LesserThanOrEqualTo", "6", false},
		{"properties.count", "Integer", "LesserThanOrEqualTo", "7", true},
		{"properties.countText", "Integer", "Equals", "7", true}, // a string holding a number
		{"properties.score.current", "Integer", "GreaterThan", "28", true},
		{"properties.count", "Integer", "Contains", "7", false},     // containment is for non-decimal operands
		{"properties.count", "Integer", "Equals", "7.0", false},     // not an integer: malformed rule
		{"properties.status.code", "Integer", "Equals", "7", false}, // not a number
		// Number
		{"properties.score.percentage", "Number", "LesserThan", "0.8", true},
		{"properties.score.percentage", "Number", "GreaterThan", "0.7308", false},
		{"properties.score.percentage", "Number", "Equals", "0.7308", true},
		{"properties.score.percentage", "Number", "GreaterThanOrEqualTo", "7.308e-1", true},
		{"properties.score.current", "Number", "Equals", "28.5", true},
		{"properties.score.max", "Number", "LesserThanOrEqualTo", "39", true},
		{"properties.score.max", "Number", "StartsWith", "3", false},
		{"properties.score.max", "Number", "Equals", "NaN", false},
		{"properties.score.max", "Number", "Equals", "0x27", false},
		// Boolean
		{"properties.metadata.preview", "Boolean", "Equals", "false", true},
		{"properties.metadata.preview", "Boolean", "Equals", "FALSE", true},
		{"properties.metadata.preview", "Boolean", "Equals", "true", false},
		{"properties.metadata.preview", "Boolean", "NotEquals", "true", true},
		{"properties.flag", "Boolean", "Equals", "True", true}, // a string holding a boolean
		{"properties.metadata.preview", "Boolean", "Contains", "f", false},
		{"properties.metadata.preview", "Boolean", "Equals", "no", false},
		{"properties.count", "Boolean", "Equals", "true", false},
		// Missing and null never match, NotEquals included.
		{"properties.missing", "String", "NotEquals", "x", false},
		{"properties.missing", "Integer", "NotEquals", "1", false},
		{"properties.nothing", "String", "Equals", "", false},
		{"properties.nothing", "String", "NotEquals", "x", false},
		{"properties.status.code.deeper", "String", "NotEquals", "x", false},
		// Paths: "$." prefix (the spec's other examples), brackets, indexes.
		{"$.properties.status.code", "String", "Equals", "Unhealthy", true},
		{"$['properties']['status'][\"code\"]", "String", "Equals", "Unhealthy", true},
		{"$.properties['metadata'].severity", "String", "Equals", "high", true},
		{"properties.tags[1]", "String", "Equals", "b", true},
		{"properties.tags[2]", "String", "Equals", "b", false},
		{"$.properties.tags[0]", "String", "Equals", "a", true},
		// Names match exactly, else ignoring case (first such key in byte order).
		{"Properties.Status.Code", "String", "Equals", "Unhealthy", true},
		{"properties.resourceDetails.id", "String", "Equals", "/a", true},
		{"properties.resourceDetails.Id", "String", "Equals", "/b", true},
		{"properties.resourceDetails.ID", "String", "Equals", "/b", true},
		// Paths that select several values, or none of a scalar.
		{"properties.tags[*]", "String", "Equals", "a", false},
		{"$..code", "String", "Equals", "Unhealthy", false},
		{"properties.tags[0:1]", "String", "Equals", "a", false},
		{"$", "String", "Equals", "", false},
		// The spec's own example path addresses an older event model; on an
		// ARM-shaped event it finds nothing.
		{"$.Entity.AssessmentType", "String", "Equals", "customAssessment", false},
	} {
		r := automation.Rule{PropertyJPath: tc.path, PropertyType: tc.typ, ExpectedValue: tc.expected, Operator: tc.op}
		if got := r.Holds([]byte(event)); got != tc.want {
			t.Errorf("%s %s %s %q: got %v, want %v (check: %q)", tc.path, tc.typ, tc.op, tc.expected, got, tc.want, r.Check())
		}
	}
}

// Check accepts what a rule can evaluate and says what else is wrong.
func TestRuleCheck(t *testing.T) {
	ok := func(path, typ, op, exp string) automation.Rule {
		return automation.Rule{PropertyJPath: path, PropertyType: typ, Operator: op, ExpectedValue: exp}
	}
	for _, r := range []automation.Rule{
		ok("properties.metadata.severity", "String", "Equals", "High"),
		ok("$.Entity.AssessmentType", "String", "Equals", "customAssessment"),
		ok("$['a'].b[3]", "String", "EndsWith", ""),
		ok("[0].x", "String", "Equals", "y"),
		ok("a[01]", "Integer", "LesserThan", "-5"),
		ok("n", "Number", "GreaterThan", "1e3"),
		ok("b", "Boolean", "NotEquals", "TRUE"),
	} {
		if msg := r.Check(); msg != "" {
			t.Errorf("%+v: %s", r, msg)
		}
	}
	for _, r := range []automation.Rule{
		ok("", "String", "Equals", "x"),
		ok("a.", "String", "Equals", "x"),
		ok(".a", "String", "Equals", "x"),
		ok("a..b", "String", "Equals", "x"),
		ok("a.*", "String", "Equals", "x"),
		ok("a[?(@.x)]", "String", "Equals", "x"),
		ok("a['b", "String", "Equals", "x"),
		ok("a['b'c]", "String", "Equals", "x"),
		ok("a[", "String", "Equals", "x"),
		ok("a[x]", "String", "Equals", "x"),
		ok("a[99999999999999999999]", "String", "Equals", "x"),
		ok("a]b", "String", "Equals", "x"),
		ok("$x", "String", "Equals", "x"),
		ok("a", "Text", "Equals", "x"),
		ok("a", "String", "GreaterThan", "x"),
		ok("a", "Integer", "Contains", "1"),
		ok("a", "Integer", "Equals", "one"),
		ok("a", "Number", "Equals", "Inf"),
		ok("a", "Boolean", "Equals", "1"),
		ok("a", "Boolean", "StartsWith", "t"),
	} {
		if r.Check() == "" {
			t.Errorf("%+v passes Check", r)
		}
	}
}

func TestRuleHoldsNotJSON(t *testing.T) {
	r := automation.Rule{PropertyJPath: "a", PropertyType: "String", Operator: "Equals", ExpectedValue: "b"}
	for _, ev := range []string{``, `{"a":"b"`, `{"a":"b"} {}`, `nope`} {
		if r.Holds([]byte(ev)) {
			t.Errorf("%q matched", ev)
		}
	}
	if !r.Holds([]byte(` {"a":"B"} `)) {
		t.Error("whitespace around the event")
	}
}

func ExampleRule_Holds() {
	r := automation.Rule{PropertyJPath: "properties.metadata.severity", PropertyType: "String", ExpectedValue: "High", Operator: "Equals"}
	fmt.Println(r.Holds([]byte(`{"properties":{"metadata":{"severity":"high"}}}`)))
	fmt.Println(r.Holds([]byte(`{"properties":{"metadata":{"severity":"Low"}}}`)))
	// Output:
	// true
	// false
}
