package automation_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/posture/posture/automation"
)

// example is one of Azure's example files in testdata (see
// testdata/SOURCE.md): the request body and the 200 response body.
type example struct {
	Parameters struct {
		SubscriptionID string          `json:"subscriptionId"`
		Automation     json.RawMessage `json:"Automation"`
	} `json:"parameters"`
	Responses map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

func loadExample(t *testing.T, version, file string) example {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", version, file))
	if err != nil {
		t.Fatal(err)
	}
	var ex example
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	return ex
}

// sameJSON fails unless got and want are the same JSON value (key order
// aside).
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("documents differ\n got  %s\n want %s", got, compact(want))
	}
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

const exampleID = "/subscriptions/a5caac9c-5c04-49af-b3d0-e204f40345d5/resourceGroups/exampleResourceGroup/providers/Microsoft.Security/automations/exampleAutomation"

// Each PUT example's request body parses, and its document is the
// example's 200 response: the write-only uri is gone, a source sent without
// ruleSets answers "ruleSets": [], tags stay {}. The etag is the response's
// (the service makes it).
func TestPutExamples(t *testing.T) {
	for _, tc := range []struct{ version, file string }{
		{automation.V2019, "PutAutomation_example.json"},
		{automation.V2023, "PutAutomationAllAssessments_example.json"},
		{automation.V2023, "PutAutomationHighSeverityAssessments_example.json"},
		// Its parameters say 2023-10-01-preview, a version no spec defines
		// (testdata/SOURCE.md); it is served as the folder's version.
		{automation.V2023, "PutDisableAutomation_example.json"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ex := loadExample(t, tc.version, tc.file)
			a, err := automation.Parse(ex.Parameters.Automation, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			doc := automation.Document(exampleID, "exampleAutomation", a, "new etag value", tc.version)
			sameJSON(t, doc, ex.Responses["200"].Body)
			if bytes.Contains(doc, []byte("exampleTriggerUri1")) {
				t.Fatalf("write-only uri rendered: %s", doc)
			}
			if got := a.Actions[0].URI; got != "https://exampleTriggerUri1.com" {
				t.Fatalf("uri %q not kept for delivery", got)
			}
		})
	}
}

// The GET example's body read as a PUT body (its read-only id, name, type
// and etag are ignored) renders back to itself.
func TestGetExampleRoundTrip(t *testing.T) {
	ex := loadExample(t, automation.V2023, "GetAutomationResourceGroup_example.json")
	body := ex.Responses["200"].Body
	a, err := automation.Parse(body, automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, automation.Document(exampleID, "exampleAutomation", a, "etag value", automation.V2023), body)
	// And in 2019-01-01-preview, whose GET example has the same shape.
	sameJSON(t, automation.Document(exampleID, "exampleAutomation", a, "etag value", automation.V2019), body)
}

// The PATCH example applied to the automation of the all-assessments PUT
// example (same properties, isEnabled true) gives the PATCH response: the
// body leaves out isEnabled, and the response still says true.
func TestPatchExample(t *testing.T) {
	put := loadExample(t, automation.V2023, "PutAutomationAllAssessments_example.json")
	a, err := automation.Parse(put.Parameters.Automation, automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	patch := loadExample(t, automation.V2023, "PatchAutomation_example.json")
	if err := a.ApplyPatch(patch.Parameters.Automation, automation.V2023); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, automation.Document(exampleID, "exampleAutomation", a, "new etag value", automation.V2023), patch.Responses["200"].Body)
}

// The validate example's model is valid in posture too, with Azure's
// message: its scope is a resource group of the subscription, its source is
// one posture emits, its rule is well-formed and its Logic App uri is https.
func TestValidateExample(t *testing.T) {
	ex := loadExample(t, automation.V2023, "ValidateAutomation_example.json")
	a, err := automation.Parse(ex.Parameters.Automation, automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	var want automation.ValidationResult
	if err := json.Unmarshal(ex.Responses["200"].Body, &want); err != nil {
		t.Fatal(err)
	}
	if got := a.Validate(ex.Parameters.SubscriptionID); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	out, _ := json.Marshal(a.Validate(ex.Parameters.SubscriptionID))
	sameJSON(t, out, ex.Responses["200"].Body)
}
