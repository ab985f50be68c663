package policy

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// Fuzz targets for the other policy objects posture reads from request
// bodies (set definitions and assignments), for resource field paths and
// for a standalone condition (exemption evidence). Each error carries a
// code, as the API's error envelope needs; what parses compiles or
// evaluates without a panic.

func builtinRegistry(f *testing.F) *Registry {
	r, err := Builtins()
	if err != nil {
		f.Fatal(err)
	}
	return r
}

func FuzzParseSetDefinition(f *testing.F) {
	// The built-in initiatives, cut to their first references: whole, they
	// are hundreds of kilobytes, and the fuzzer would crawl.
	_ = fs.WalkDir(BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, "/policySetDefinitions/") {
			return nil
		}
		data, _ := fs.ReadFile(BuiltinFS(), p)
		var doc map[string]any
		if json.Unmarshal(data, &doc) != nil {
			return nil
		}
		if props, ok := doc["properties"].(map[string]any); ok {
			if refs, ok := props["policyDefinitions"].([]any); ok && len(refs) > 3 {
				props["policyDefinitions"] = refs[:3]
			}
			delete(props, "policyDefinitionGroups")
		}
		if b, err := json.Marshal(doc); err == nil {
			f.Add(b)
		}
		return nil
	})
	reg := builtinRegistry(f)
	f.Add([]byte(`{"properties":{"displayName":"s","parameters":{"e":{"type":"String","defaultValue":"Audit"}},"policyDefinitions":[{"policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/404c3081-a854-4457-ae30-26a93ef643f9","policyDefinitionReferenceId":"r1","parameters":{"effect":{"value":"[parameters('e')]"}},"groupNames":["g"]}],"policyDefinitionGroups":[{"name":"g"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSetDefinition(data)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("parse error without a code: %v", err)
			}
			return
		}
		if err := reg.ValidateSetDefinition(s); err != nil && ErrorCode(err) == "" {
			t.Fatalf("validation error without a code: %v", err)
		}
	})
}

func FuzzParseAssignment(f *testing.F) {
	if b, err := os.ReadFile("../demo/examples/Microsoft.Authorization_policyAssignments.json"); err == nil {
		f.Add(b)
	}
	for _, c := range loadCases(f) {
		props := map[string]any{"policyDefinitionId": MCSBv2ID, "parameters": map[string]any{}}
		for k, v := range c.Assignment {
			props[k] = v
		}
		for k, v := range c.Params {
			props["parameters"].(map[string]any)[k] = map[string]any{"value": v}
		}
		if b, err := json.Marshal(map[string]any{"properties": props}); err == nil {
			f.Add(b)
		}
	}
	reg := builtinRegistry(f)
	res, err := NewResourceJSON([]byte(fuzzResource))
	if err != nil {
		f.Fatal(err)
	}
	ix := NewIndex(res)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAssignment(data)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("parse error without a code: %v", err)
			}
			return
		}
		ca, err := Compile(a, reg)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("compile error without a code: %v", err)
			}
			return
		}
		for _, cr := range ca.References {
			o := cr.evaluate(context.Background(), res, ix, EvalOptions{Budget: 200000}, true)
			if o.applicable && o.state == "" {
				t.Fatal("applicable outcome without a state")
			}
		}
	})
}

// FuzzParsePath reads fields of a resource by any path: a path that
// parses keeps its text, and reading it never panics.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"name", "tags['env']", "tags.env", "properties.networkAcls.ipRules[*].value", "properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status",
		"Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "properties['a.b'][0]", "properties.x[*][*]", "identity.type", "location", "fullName"} {
		f.Add(s)
	}
	res, err := NewResourceJSON([]byte(fuzzResource))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePath(%q).String() = %q", s, p.String())
		}
		v := p.Read(res)
		if !p.Collection() && len(v.Values) > 0 {
			t.Fatalf("a path without [*] read %d values", len(v.Values))
		}
	})
}

// FuzzParseCondition reads a standalone condition, as exemption evidence
// is, and evaluates what parses against a resource.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{`{"field":"type","equals":"Microsoft.Storage/storageAccounts"}`,
		`{"allOf":[{"field":"location","in":["westeurope","West Europe"]},{"not":{"field":"tags['env']","exists":false}}]}`,
		`{"count":{"field":"Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]","where":{"field":"Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value","like":"10.*"}},"greaterOrEquals":1}`,
		`{"value":"[length(field('tags'))]","greater":0}`, `{"anyOf":[]}`} {
		f.Add([]byte(s))
	}
	res, err := NewResourceJSON([]byte(fuzzResource))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCondition(data, ConditionOptions{})
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("parse error without a code: %v", err)
			}
			return
		}
		_, _, _ = c.Eval(context.Background(), res, EvalOptions{Budget: 200000})
	})
}
