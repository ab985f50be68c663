package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// evalExpr parses, binds (with params) and evaluates one expression.
func evalExpr(t *testing.T, src string, params map[string]any) (any, error) {
	t.Helper()
	e, err := parseExpression(src)
	if err != nil {
		return nil, err
	}
	b := newBinder(params, nil, "")
	be, err := e.bind(b)
	if err != nil {
		return nil, err
	}
	return be.eval(&evalCtx{budget: defaultBudget, now: time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC), apiVersion: latestAPIVersion})
}

func TestUniqueStringMatchesARM(t *testing.T) {
	// Values ARM/Bicep return for these inputs, as published alongside an
	// independent re-implementation of uniqueString (arguments joined with
	// "-"); see docs/policy-semantics.md.
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"test"}, "rbgf3xv4ufgzg"},
		{[]string{"hello", "world"}, "a7wkljktk6wne"},
		{[]string{"abc"}, "cgtzqvhu4i23s"},
		{[]string{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg"}, "bmg7c6xu4tw46"},
		{[]string{"foo", "bar", "baz"}, "xzi4ioaxtmth4"},
	}
	for _, tt := range tests {
		args := make([]any, len(tt.args))
		for i, a := range tt.args {
			args[i] = a
		}
		got, err := fnUniqueString(nil, args)
		if err != nil || got != tt.want {
			t.Errorf("uniqueString(%q) = %v, %v; want %s", tt.args, got, err, tt.want)
		}
	}
}

func TestGUIDIsVersion5(t *testing.T) {
	a, _ := fnGUID(nil, []any{"a", "b"})
	b, _ := fnGUID(nil, []any{"a", "b"})
	c, _ := fnGUID(nil, []any{"a-b"})
	s := a.(string)
	if a != b || len(s) != 36 || s[14] != '5' {
		t.Fatalf("guid not deterministic v5: %v %v", a, b)
	}
	// Arguments are joined with "-" before hashing, like uniqueString.
	if a != c {
		t.Errorf("guid('a','b') = %v, guid('a-b') = %v; want equal", a, c)
	}
}

func TestExpressionFunctions(t *testing.T) {
	params := map[string]any{"list": []any{"a", "b"}, "n": 3.0, "obj": map[string]any{"Key": "v"}}
	tests := []struct {
		src  string
		want any
	}{
		{"[concat('a', 1, true)]", "a1True"},
		{"[concat(createArray(1), createArray(2, 3))]", []any{1.0, 2.0, 3.0}},
		{"[split('a,b;c', createArray(',', ';'))]", []any{"a", "b", "c"}},
		{"[if(equals(parameters('n'), 3), 'three', substring('x', 0, 9))]", "three"},
		{"[empty(createObject())]", true},
		{"[padLeft('7', 3, '0')]", "007"},
		{"[length(parameters('list'))]", 2.0},
		{"[first(parameters('list'))]", "a"},
		{"[last('xyz')]", "z"},
		{"[first(createArray())]", nil},
		{"[coalesce(null(), 'x')]", "x"},
		{"[toUpper('aB')]", "AB"},
		{"[int('12')]", 12.0},
		{"[string(createArray(1, 'a'))]", `[1,"a"]`},
		{"[bool('False')]", false},
		{"[and(true(), or(false(), not(false())))]", true},
		{"[greaterOrEquals('b', 'a')]", true},
		{"[contains(parameters('obj'), 'key')]", true},
		{"[contains('abc', 'B')]", false},
		{"[startsWith('Hello', 'he')]", true},
		{"[indexOf('abcABC', 'C')]", 2.0},
		{"[lastIndexOf(createArray(1, 2, 1), 1)]", 2.0},
		{"[substring('hello', 1, 3)]", "ell"},
		{"[replace('a-b-c', '-', '')]", "abc"},
		{"[trim('  x ')]", "x"},
		{"[union(createArray(1, 2), createArray(2, 3))]", []any{1.0, 2.0, 3.0}},
		{"[union(createObject('a', 1), createObject('b', 2))]", map[string]any{"a": 1.0, "b": 2.0}},
		{"[intersection(createArray(1, 2, 3), createArray(3, 1))]", []any{1.0, 3.0}},
		{"[take(createArray(1, 2, 3), 2)]", []any{1.0, 2.0}},
		{"[skip('abc', 5)]", ""},
		{"[json('{\"a\":{\"b\":[1,2]}}').a.b[1]]", 2.0},
		{"[array('x')]", []any{"x"}},
		{"[items(createObject('b', 1, 'a', 2))[0].key]", "a"},
		{"[parameters('obj').key]", "v"},
		{"[parameters('obj')['KEY']]", "v"},
		{"[base64('hi')]", "aGk="},
		{"[base64ToJson(base64('{\"x\":1}')).x]", 1.0},
		{"[uriComponent('a b/c')]", "a%20b%2Fc"},
		{"[uriComponentToString('a%20b')]", "a b"},
		{"[dataUriToString(dataUri('hi'))]", "hi"},
		{"[format('{0}+{1}={2:N1}', 1, 2, 3)]", "1+2=3.0"},
		{"[addDays('2025-01-31T00:00:00Z', 1)]", "2025-02-01T00:00:00.0000000Z"},
		{"[utcNow()]", "2025-01-15T10:00:00.0000000Z"},
		{"[utcNow('u')]", "2025-01-15 10:00:00Z"},
		{"[ipRangeContains('10.0.0.0/8', '10.1.2.0/24')]", true},
		{"[ipRangeContains('2001:db8::/32', '2001:db8::1-2001:db8::ff')]", true},
		{"[range(1, 3)]", []any{1.0, 2.0, 3.0}},
		{"[min(3, 1, 2)]", 1.0},
		{"[max(createArray(3, 9))]", 9.0},
		{"[div(-7, 2)]", -3.0},
		{"[mod(7, 3)]", 1.0},
		{"[join(createArray('a', 'b'), '-')]", "a-b"},
		{"[objectKeys(createObject('b', 1, 'a', 2))]", []any{"a", "b"}},
		{"[tryGet(parameters('obj'), 'missing')]", nil},
		{"[flatten(createArray(createArray(1), createArray(2)))]", []any{1.0, 2.0}},
		{"[requestContext().apiVersion]", latestAPIVersion},
		{"[[not an expression]", "[not an expression]"},
		{"plain text", "plain text"},
	}
	for _, tt := range tests {
		got, err := evalExpr(t, tt.src, params)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.src, diff)
		}
	}
}

func TestExpressionErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string // substring of the error
	}{
		{"[substring('abc', 2, 5)]", "out of range"},
		{"[int('x')]", "not an integer"},
		{"[div(1, 0)]", "division by zero"},
		{"[json('{')]", "json"},
		{"[createArray(1)[3]]", "out of range"},
		{"[ipRangeContains('10.0.0.0/8', '::1')]", "mix"},
		{"[if('yes', 1, 2)]", "boolean"},
		{"[length(1)]", "length"},
		{"[padLeft('x', 3, 'ab')]", "single character"},
		{"[current()]", "only available inside a count"},
		{"[parameters('undefined')]", "undefined parameter"},
		{"[nosuch(1)]", "not valid"},
		{"[resourceId('a', 'b')]", "not allowed"},
		{"[concat('a',]", "unexpected"},
		{"[concat('a')", ""},
		{"['unterminated]", "unterminated"},
		{"[concat('a') extra]", "unexpected"},
		{"[substring('a')]", "takes 2 to 3"},
	}
	for _, tt := range tests {
		_, err := evalExpr(t, tt.src, nil)
		if tt.want == "" {
			continue // not an expression: a literal string, no error expected
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one containing %q", tt.src, err, tt.want)
		}
	}
}

func TestExpressionStringRoundTrip(t *testing.T) {
	for _, src := range []string{
		"[concat('it''s', parameters('x'), field('name'))]",
		"[if(equals(1, 2), json('{\"a\":1}').a, createArray('a', 'b')[0])]",
		"[current('Microsoft.Test/arr[*].p')]",
	} {
		e, err := parseExpression(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		again, err := parseExpression("[" + e.String() + "]")
		if err != nil {
			t.Fatalf("reparse of %s: %v", e.String(), err)
		}
		if again.String() != e.String() {
			t.Errorf("round trip changed %q into %q", e.String(), again.String())
		}
	}
}

func TestConstantFolding(t *testing.T) {
	e, err := parseExpression("[concat('tags[', parameters('tagName'), ']')]")
	if err != nil {
		t.Fatal(err)
	}
	be, err := e.bind(newBinder(map[string]any{"tagname": "owner"}, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	lit, ok := be.(*litExpr)
	if !ok || lit.v != "tags[owner]" {
		t.Fatalf("bound expression = %#v, want the constant tags[owner]", be)
	}
	// Calls that read the resource stay calls.
	e2, _ := parseExpression("[concat(field('name'), parameters('tagName'))]")
	be2, _ := e2.bind(newBinder(map[string]any{"tagname": "x"}, nil, ""))
	if _, ok := be2.(*litExpr); ok {
		t.Fatal("an expression reading field() must not fold to a constant")
	}
}
