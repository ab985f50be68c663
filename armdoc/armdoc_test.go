package armdoc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

func decodeAll(t *testing.T, in string) ([]string, error) {
	t.Helper()
	d := armdoc.NewDecoder(strings.NewReader(in))
	var ids []string
	for {
		raw, err := d.Next()
		if err == io.EOF {
			return ids, nil
		}
		if err != nil {
			return ids, err
		}
		var probe struct{ ID string }
		if err := json.Unmarshal(raw, &probe); err != nil {
			t.Fatalf("document %s is not JSON: %v", raw, err)
		}
		ids = append(ids, probe.ID)
	}
}

func TestDecoderShapes(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one document", `{"id":"/a","name":"a"}`, []string{"/a"}},
		{"json lines", "{\"id\":\"/a\"}\n{\"id\":\"/b\"}\n", []string{"/a", "/b"}},
		{"array", `[{"id":"/a"},{"id":"/b"}]`, []string{"/a", "/b"}},
		{"arm list", `{"value":[{"id":"/a"},{"id":"/b"}],"nextLink":"https://x"}`, []string{"/a", "/b"}},
		{"nextLink first", `{"nextLink":null,"value":[{"id":"/a"}]}`, []string{"/a"}},
		{"az graph query", `{"count":2,"data":[{"id":"/a"},{"id":"/b"}],"skip_token":null,"total_records":2}`, []string{"/a", "/b"}},
		{"graph table", `{"totalRecords":2,"data":{"columns":[{"name":"id","type":"string"},{"name":"n","type":"integer"}],"rows":[["/a",1],["/b",2]]}}`, []string{"/a", "/b"}},
		{"document with a data member", `{"id":"/a","data":{"x":[1,{"y":"z"}]},"value":3}`, []string{"/a"}},
		{"empty array", `[]`, nil},
		{"empty list", `{"value":[]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecoderKeepsNestedDataMember(t *testing.T) {
	d := armdoc.NewDecoder(strings.NewReader(`{"id":"/a","data":{"x":[1,{"y":"z"}]}}`))
	raw, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data struct {
			X []any `json:"x"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || len(got.Data.X) != 2 {
		t.Errorf("nested member lost: %s (%v)", raw, err)
	}
}

func TestDecoderSyntaxErrorStops(t *testing.T) {
	got, err := decodeAll(t, `[{"id":"/a"},{"id":]`)
	if err == nil {
		t.Fatal("no error for broken JSON")
	}
	if len(got) != 1 || got[0] != "/a" {
		t.Errorf("documents before the error: %v", got)
	}
	if !strings.Contains(err.Error(), "near byte") {
		t.Errorf("error does not locate the problem: %v", err)
	}
}

func TestNormalizeExamples(t *testing.T) {
	files, _ := filepath.Glob("../demo/examples/*.json")
	if len(files) < 20 {
		t.Fatalf("found %d example documents", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := armdoc.Normalize(raw)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		id := armid.MustParse(r.ID)
		if r.Key != id.Key() || !strings.EqualFold(r.Type, id.Type()) || r.Name != id.Name() {
			t.Errorf("%s: columns %q %q %q disagree with id %s", f, r.Key, r.Type, r.Name, id)
		}
		if r.ParentKey != id.Parent().Key() {
			t.Errorf("%s: parent %q, want %q", f, r.ParentKey, id.Parent().Key())
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("%s: body is not JSON: %v", f, err)
		}
		if body["type"] == nil || body["name"] == nil || body["id"] == nil {
			t.Errorf("%s: body lacks id/name/type: %s", f, r.Body[:100])
		}
	}
}

func TestNormalizeColumns(t *testing.T) {
	raw := `{"id":"/subscriptions/S1/resourcegroups/RG1/providers/Microsoft.ContainerService/ManagedClusters/c1",
		"type":"Microsoft.ContainerService/ManagedClusters","location":"West US 2","tags":{"env":"prod"},
		"kind":"","managedBy":"","sku":null,"resourceGroup":"RG1","subscriptionId":"S1","tenantId":"t","properties":{"a":1}}`
	r, err := armdoc.Normalize([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if r.Location != "westus2" || r.SubscriptionID != "s1" || r.ResourceGroup != "rg1" || !r.Tracked {
		t.Errorf("columns: %+v", r)
	}
	if r.Type != "Microsoft.ContainerService/ManagedClusters" {
		t.Errorf("type %q: the document's casing is kept", r.Type)
	}
	if r.Tags["env"] != "prod" {
		t.Errorf("tags %v", r.Tags)
	}
	for _, dropped := range []string{`"resourceGroup"`, `"subscriptionId"`, `"tenantId"`, `"sku"`, `"kind"`, `"managedBy"`} {
		if strings.Contains(string(r.Body), dropped) {
			t.Errorf("body keeps Resource Graph column %s: %s", dropped, r.Body)
		}
	}
	if !strings.HasPrefix(string(r.Body), `{"id":"/subscriptions/S1/resourceGroups/RG1/providers/Microsoft.ContainerService/ManagedClusters/c1","name":"c1","type":`) {
		t.Errorf("body does not start with id, name, type: %s", r.Body)
	}
}

func TestNormalizeGraphRows(t *testing.T) {
	// Resource Graph rows: lower-case types, subscriptions named by display name.
	rg, err := armdoc.Normalize([]byte(`{"id":"/subscriptions/s1/resourceGroups/rg","type":"microsoft.resources/subscriptions/resourcegroups","location":"eastus"}`))
	if err != nil || rg.Type != armid.ResourceGroupType {
		t.Errorf("resource group row: %v %+v", err, rg)
	}
	sub, err := armdoc.Normalize([]byte(`{"id":"/subscriptions/s1","name":"Production","type":"microsoft.resources/subscriptions","subscriptionId":"s1",
		"properties":{"managementGroupAncestorsChain":[{"name":"mg-prod","displayName":"Prod"},{"name":"tenant"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if sub.ParentKey != "/providers/microsoft.management/managementgroups/mg-prod" {
		t.Errorf("subscription parent %q", sub.ParentKey)
	}
	if !strings.Contains(string(sub.Body), `"displayName":"Production"`) {
		t.Errorf("subscription display name lost: %s", sub.Body)
	}
	mg, err := armdoc.Normalize([]byte(`{"id":"/providers/Microsoft.Management/managementGroups/child","type":"Microsoft.Management/managementGroups",
		"properties":{"displayName":"Child","details":{"parent":{"id":"/providers/Microsoft.Management/managementGroups/root"}}}}`))
	if err != nil || mg.ParentKey != "/providers/microsoft.management/managementgroups/root" {
		t.Errorf("management group: %v %+v", err, mg)
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		doc, code string
	}{
		{`{"name":"x"}`, "MissingResourceId"},
		{`{"id":"subscriptions/x"}`, "InvalidResourceId"},
		{`{"id":"/"}`, "InvalidResourceId"},
		{`{"id":"/providers/Microsoft.Authorization/policyDefinitions/x"}`, "InvalidResourceId"},
		{`{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm","type":"Microsoft.Compute/disks"}`, "InvalidResourceType"},
		{`{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm","name":"other"}`, "InvalidResourceName"},
		{`{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm","tags":{"a":1}}`, "InvalidTag"},
		{`[1,2]`, "InvalidRequestContent"},
		{`{"id":"/subscriptions/s"} {}`, "InvalidRequestContent"},
		{`{"id":`, "InvalidRequestContent"},
	}
	for _, tt := range tests {
		_, err := armdoc.Normalize([]byte(tt.doc))
		var pe *posture.Error
		if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code != tt.code {
			t.Errorf("Normalize(%s) = %v, want %s", tt.doc, err, tt.code)
		}
	}
}

func TestFromPut(t *testing.T) {
	id := armid.MustParse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1")
	r, err := armdoc.FromPut(id, []byte(`{"location":"eastus","properties":{"minimumTlsVersion":"TLS1_2"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(r.Body), `{"id":"`+id.String()+`","name":"sa1","type":"Microsoft.Storage/storageAccounts","location":"eastus"`) {
		t.Errorf("body %s", r.Body)
	}
	if _, err := armdoc.FromPut(id, []byte(`{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/other"}`)); posture.ErrorCode(err) != "LinkedInvalidPropertyId" {
		t.Errorf("id of another resource: %v", err)
	}
	if _, err := armdoc.FromPut(id, []byte(`{"type":"Microsoft.Compute/disks"}`)); posture.ErrorCode(err) != "InvalidResourceType" {
		t.Errorf("type of another resource: %v", err)
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder and to Normalize: they
// may refuse, but never panic, and what Normalize accepts is valid JSON
// that normalises again to the same key.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("../demo/examples/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte(`{"value":[{"id":"/subscriptions/s"}],"nextLink":null}`))
	f.Add([]byte(`{"data":{"columns":[{"name":"id"}],"rows":[["/subscriptions/s/resourceGroups/r"]]}}`))
	f.Add([]byte(`{"id":"/subscriptions/s","type":"Microsoft.Resources/subscriptions","managementGroupId":"/providers/Microsoft.Management/managementGroups/mg1"}`))
	f.Add([]byte(`{"id":"/subscriptions/s","type":"Microsoft.Resources/subscriptions","managementGroupId":"a/b"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := armdoc.NewDecoder(strings.NewReader(string(in)))
		for range 1000 {
			raw, err := d.Next()
			if err != nil {
				return
			}
			r, err := armdoc.Normalize(raw)
			if err != nil {
				if posture.ErrorKind(err) != posture.EINVALID {
					t.Fatalf("Normalize error of kind %v: %v", posture.ErrorKind(err), err)
				}
				continue
			}
			if !json.Valid(r.Body) {
				t.Fatalf("body is not valid JSON: %s", r.Body)
			}
			again, err := armdoc.Normalize(r.Body)
			if err != nil || again.Key != r.Key {
				t.Fatalf("normalised body does not normalise again: %v (%s)", err, r.Body)
			}
		}
	})
}

func decodeRaw(r io.Reader) ([]string, error) {
	d := armdoc.NewDecoder(r)
	var out []string
	for {
		raw, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(raw))
	}
}

// FuzzDecoderChunking checks that where the reads split the input does not
// matter, that every document is valid JSON, and that an array of objects
// decodes to its elements.
func FuzzDecoderChunking(f *testing.F) {
	for _, s := range []string{
		`[{"id":"/a"},{"id":"/b","x":"]}\"{"}]`, `{"value":[{"a":1}],"nextLink":"n"}`, "{\"a\":1}\n{\"b\":[2]}",
		`{"data":{"columns":[{"name":"id"}],"rows":[["/a"],["/b"]]},"count":2}`, `{"data":{"x":{"y":[1]}},"id":"/z"}`,
		`[{"a":"\u00e9\\"}]`, `[1, {"a":true}]`, `[{"a":1},`, `{"value":[{"a":1}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, errWhole := decodeRaw(bytes.NewReader(in))
		bytewise, errByte := decodeRaw(iotest.OneByteReader(bytes.NewReader(in)))
		if (errWhole == nil) != (errByte == nil) || strings.Join(whole, "\x00") != strings.Join(bytewise, "\x00") {
			t.Fatalf("chunking changes the result for %q:\n%q %v\n%q %v", in, whole, errWhole, bytewise, errByte)
		}
		for _, d := range whole {
			if !json.Valid([]byte(d)) {
				t.Fatalf("document %q is not valid JSON (input %q)", d, in)
			}
		}
		var arr []map[string]any
		if errWhole == nil && json.Unmarshal(in, &arr) == nil {
			if len(arr) != len(whole) {
				t.Fatalf("array of %d objects gave %d documents", len(arr), len(whole))
			}
			for i, d := range whole {
				var got map[string]any
				json.Unmarshal([]byte(d), &got)
				a, _ := json.Marshal(got)
				b, _ := json.Marshal(arr[i])
				if string(a) != string(b) {
					t.Fatalf("element %d: %s, want %s", i, a, b)
				}
			}
		}
	})
}

// A subscription names its management group by name or by id; anything
// else leaves the default parent (it once panicked on an id).
func TestSubscriptionManagementGroup(t *testing.T) {
	for in, want := range map[string]string{
		"mg1": "/providers/microsoft.management/managementgroups/mg1",
		"/providers/Microsoft.Management/managementGroups/MG1": "/providers/microsoft.management/managementgroups/mg1",
		"a/b":              "",
		"/subscriptions/x": "",
	} {
		r, err := armdoc.Normalize([]byte(`{"id":"/subscriptions/s","type":"Microsoft.Resources/subscriptions","managementGroupId":"` + in + `"}`))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if want != "" && r.ParentKey != want || want == "" && (strings.Contains(r.ParentKey, "a/b") || strings.Contains(r.ParentKey, "/subscriptions/x")) {
			t.Errorf("%s: parent %q, want %q", in, r.ParentKey, want)
		}
	}
}
