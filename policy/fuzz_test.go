package policy

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// Fuzz targets for the rule parser, the expression parser and evaluation.
// They are seeded from the shipped built-ins and the conformance corpus; run
// them with, for example,
//
//	go test ./policy -run '^$' -fuzz FuzzParseDefinition -fuzztime 3m
//
// A failure is a panic, a hang, or a broken invariant; parse and evaluation
// errors are expected outcomes.

// fuzzResource is evaluated by definitions that parse.
const fuzzResource = `{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1","name":"sa1",
"type":"Microsoft.Storage/storageAccounts","kind":"StorageV2","location":"West Europe","tags":{"env":"prod"},
"properties":{"networkAcls":{"defaultAction":"Allow","ipRules":[{"value":"10.0.0.1"},{"value":"10.0.0.2"}]},"supportsHttpsTrafficOnly":false,
"privateEndpointConnections":[{"properties":{"privateLinkServiceConnectionState":{"status":"Approved"}}}],"minimumTlsVersion":"TLS1_0"}}`

func seedDefinitions(f *testing.F) {
	_ = fs.WalkDir(BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "/policyDefinitions/") {
			data, _ := fs.ReadFile(BuiltinFS(), p)
			f.Add(data)
		}
		return nil
	})
	for _, c := range loadCases(f) {
		if m, ok := c.Definition.(map[string]any); ok {
			data, _ := json.Marshal(m)
			f.Add(data)
		}
	}
}

func FuzzParseDefinition(f *testing.F) {
	seedDefinitions(f)
	res, err := NewResourceJSON([]byte(fuzzResource))
	if err != nil {
		f.Fatal(err)
	}
	ix := NewIndex(res)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(data)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("parse error without a code: %v", err)
			}
			return
		}
		if d.ID == "" {
			d.ID = BuiltinDefinitionID("fuzz")
		}
		reg := NewRegistry()
		_ = reg.AddDefinition(d)
		ca, err := Compile(&Assignment{PolicyDefinitionID: d.ID}, reg)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("compile error without a code: %v", err)
			}
			return
		}
		for _, cr := range ca.References {
			// Call the evaluator without Evaluate's recover, so that a panic
			// fails the fuzz run.
			o := cr.evaluate(context.Background(), res, ix, EvalOptions{Budget: 200000}, true)
			if o.applicable && o.state == "" {
				t.Fatal("applicable outcome without a state")
			}
		}
	})
}

func seedExpressions(f *testing.F) {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if isExpression(x) && !seen[x] {
				seen[x] = true
				f.Add(x)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	_ = fs.WalkDir(BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			data, _ := fs.ReadFile(BuiltinFS(), p)
			v, _ := decodeJSON(data)
			walk(v)
		}
		return nil
	})
	for _, s := range []string{"[[x]", "[concat('a''b', 1, -2.5)]", "[json('{}').a[0].b]", "[if(true(), 1, fail())]"} {
		f.Add(s)
	}
}

func FuzzParseExpression(f *testing.F) {
	seedExpressions(f)
	res, err := NewResourceJSON([]byte(fuzzResource))
	if err != nil {
		f.Fatal(err)
	}
	params := map[string]any{"effect": "Audit", "list": []any{"a", 1.0}, "obj": map[string]any{"k": "v"}}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseExpression(s)
		if err != nil {
			return
		}
		// Printing and parsing again gives the same tree.
		if _, isLit := e.(*litExpr); !isLit {
			again, err := parseExpression("[" + e.String() + "]")
			if err != nil {
				t.Fatalf("String() of %q does not parse: %q: %v", s, e.String(), err)
			}
			if again.String() != e.String() {
				t.Fatalf("round trip of %q: %q != %q", s, again.String(), e.String())
			}
		}
		b := newBinder(params, nil, "")
		be, err := e.bind(b)
		if err != nil {
			return
		}
		c := &evalCtx{ctx: context.Background(), res: res, ifRes: res, budget: 100000, apiVersion: latestAPIVersion}
		_, _ = be.eval(c)
	})
}

func FuzzEvaluateResource(f *testing.F) {
	for _, name := range []string{"Microsoft.Storage_storageAccounts.json", "Microsoft.Web_sites.json", "Microsoft.Compute_virtualMachines.json",
		"Microsoft.Network_virtualNetworks.json", "Microsoft.Sql_servers.json", "Microsoft.KeyVault_vaults.json"} {
		data, err := fs.ReadFile(testdataFS(), "resources/"+name)
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(fuzzResource))
	reg, err := Builtins()
	if err != nil {
		f.Fatal(err)
	}
	ca, err := Compile(&Assignment{PolicyDefinitionID: MCSBv2ID}, reg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewResourceJSON(data)
		if err != nil {
			return
		}
		ix := NewIndex(r)
		for _, cr := range ca.candidates(r.typeKey) {
			_ = cr.evaluate(context.Background(), r, ix, EvalOptions{Budget: 200000}, false)
		}
	})
}

func testdataFS() fs.FS { return os.DirFS("testdata") }
