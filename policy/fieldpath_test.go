package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustResourceJSON(t testing.TB, doc string) *Resource {
	t.Helper()
	r, err := NewResourceJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustPath(t testing.TB, s string) *Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatalf("ParsePath(%q): %v", s, err)
	}
	return p
}

func TestPathRead(t *testing.T) {
	r := mustResourceJSON(t, `{
		"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/srv/databases/db",
		"type": "Microsoft.Sql/servers/databases",
		"kind": "v12.0,user",
		"tags": {"Env": "prod", "a'b": "quoted"},
		"properties": {
			"nullValue": null,
			"Nested": {"flag": false},
			"rules": [{"value": "1.2.3.4"}, {"other": 1}, {"value": null}],
			"notArray": {"value": "x"}
		}
	}`)
	tests := []struct {
		path string
		want PathValue
	}{
		{"name", PathValue{Value: "db", Found: true}},
		{"fullName", PathValue{Value: "srv/db", Found: true}},
		{"type", PathValue{Value: "Microsoft.Sql/servers/databases", Found: true}},
		{"location", PathValue{Value: "global", Found: true}}, // none in the document
		{"kind", PathValue{Value: "v12.0,user", Found: true}},
		{"id", PathValue{Value: r.ID, Found: true}},
		{"tags", PathValue{Value: map[string]any{"Env": "prod", "a'b": "quoted"}, Found: true}},
		{"tags['env']", PathValue{Value: "prod", Found: true}},
		{"tags['a'b']", PathValue{Value: "quoted", Found: true}}, // resolvedPath writes the name verbatim
		{"tags['missing']", PathValue{}},
		{"properties.nested.FLAG", PathValue{Value: false, Found: true}},
		{"properties.nullValue", PathValue{Value: nil, Found: true}}, // null is not absent
		{"properties.absent", PathValue{}},
		{"properties.nested.flag.deeper", PathValue{}},
		// Members lacking the key are skipped; a null member value is kept.
		{"properties.rules[*].value", PathValue{Values: []any{"1.2.3.4", nil}, Found: true, Collection: true}},
		{"properties.missing[*]", PathValue{Collection: true}},
		{"properties.notArray[*].value", PathValue{Collection: true}},
	}
	for _, tt := range tests {
		got := mustPath(t, tt.path).Read(r)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Read(%s) = %#v, want %#v", tt.path, got, tt.want)
		}
	}
	if got := mustPath(t, "name").Read(nil); got.Found {
		t.Errorf("Read(nil) found %v", got.Value)
	}
	if _, err := ParsePath("properties..[x"); err == nil {
		t.Error("ParsePath accepted a malformed path")
	}
}

// Keys that differ only in case: the evaluator's pick is arbitrary, Read's
// is the least key, every time.
func TestPathReadStableCaseCollision(t *testing.T) {
	r := mustResourceJSON(t, `{"id": "/subscriptions/s/resourceGroups/g/providers/A.B/c/d",
		"properties": {"Ab": 2, "AB": 1, "aB": 3}}`)
	p := mustPath(t, "properties.ab")
	for range 50 {
		if got := p.Read(r); got.Value != float64(1) {
			t.Fatalf("Read = %v, want 1 (key \"AB\")", got.Value)
		}
	}
}

// Path.Read must see what the evaluator's field reference sees: for every
// field of every MCSB v1 reference, over every example document.
func TestPathReadAgreesWithEvaluator(t *testing.T) {
	reg, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	ca := mustCompile(t, &Assignment{PolicyDefinitionID: MCSBv1ID}, reg)
	files, _ := filepath.Glob("testdata/resources/*.json")
	var docs []*Resource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := NewResourceJSON(data); err == nil {
			docs = append(docs, r)
		}
	}
	if len(docs) < 20 {
		t.Fatalf("only %d example documents", len(docs))
	}
	checked := 0
	for _, cr := range ca.References {
		for _, f := range cr.Facts.Fields {
			if f.Related || f.Derived || strings.Contains(f.Path, " | ") {
				continue
			}
			spec, _ := DefaultAliases().resolveField(f.Name, nil)
			p := mustPath(t, f.Path)
			for _, r := range docs {
				if len(spec.byType) > 0 {
					continue // checked by TestReadPathsPerType
				}
				want := (&evalCtx{}).readField(spec, r)
				got := p.Read(r)
				if got.Found != want.found || got.Collection != want.collection ||
					!reflect.DeepEqual(got.Value, want.value) || !reflect.DeepEqual(got.Values, want.values) {
					t.Fatalf("%s on %s: Read = %#v, evaluator = %#v", f.Path, r.ID, got, want)
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d comparisons", checked)
	}
}

func TestReadPathsPerType(t *testing.T) {
	f := FieldFact{Name: "Microsoft.Compute/imagePublisher", Path: "properties.storageProfile.imageReference.publisher"}
	got := f.ReadPaths()
	want := []string{"properties.storageProfile.imageReference.publisher", "properties.virtualMachineProfile.storageProfile.imageReference.publisher"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadPaths = %q, want %q", got, want)
	}
	// The scale set path is the one the evaluator reads on a scale set.
	vmss := mustResourceJSON(t, `{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/v",
		"type": "Microsoft.Compute/virtualMachineScaleSets", "location": "westeurope",
		"properties": {"virtualMachineProfile": {"storageProfile": {"imageReference": {"publisher": "Canonical"}}}}}`)
	spec, _ := DefaultAliases().resolveField(f.Name, nil)
	want0 := (&evalCtx{}).readField(spec, vmss)
	if got := mustPath(t, want[1]).Read(vmss); got.Value != want0.value || got.Value != "Canonical" {
		t.Errorf("scale set: Read = %v, evaluator = %v", got.Value, want0.value)
	}

	derived := FieldFact{Name: "Microsoft.KeyVault.Data/vaults/keys/attributes.expiresOn", Path: "properties.attributes.expiresOn | properties.expiresOn", Derived: true}
	if got := derived.ReadPaths(); !reflect.DeepEqual(got, []string{"properties.attributes.expiresOn", "properties.expiresOn"}) {
		t.Errorf("derived ReadPaths = %q", got)
	}
	if got := (FieldFact{Name: "name", Path: "name"}).ReadPaths(); !reflect.DeepEqual(got, []string{"name"}) {
		t.Errorf("built-in ReadPaths = %q", got)
	}
}
