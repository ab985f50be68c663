package drift_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/drift"
)

func withDefaultAction(t *testing.T, action string) map[string]any {
	doc := storageDoc(t, true)
	doc["properties"].(map[string]any)["networkAcls"].(map[string]any)["defaultAction"] = action
	return doc
}

func TestEvidenceDefaultActionDeny(t *testing.T) {
	ev, err := drift.ParseEvidence(json.RawMessage(`{"field":"Microsoft.Storage/storageAccounts/networkAcls.defaultAction","equals":"Deny"}`))
	if err != nil {
		t.Fatal(err)
	}
	holds, why, err := ev.Check(resource(t, withDefaultAction(t, "Deny")))
	if err != nil || !holds || why != "" {
		t.Errorf("Deny: holds=%v why=%q err=%v", holds, why, err)
	}
	// Strings compare case-insensitively, as in policy rules.
	if holds, _, _ := ev.Check(resource(t, withDefaultAction(t, "deny"))); !holds {
		t.Error("deny (lower case) does not hold")
	}
	// The example document itself says Allow.
	holds, why, err = ev.Check(resource(t, storageDoc(t, nil)))
	if err != nil || holds {
		t.Fatalf("Allow: holds=%v err=%v", holds, err)
	}
	if want := `properties.networkAcls.defaultAction is "Allow" (equals "Deny": false)`; why != want {
		t.Errorf("why = %q, want %q", why, want)
	}
	doc := storageDoc(t, nil)
	delete(doc["properties"].(map[string]any), "networkAcls")
	if holds, why, _ := ev.Check(resource(t, doc)); holds || why != `properties.networkAcls.defaultAction is absent (equals "Deny": false)` {
		t.Errorf("no networkAcls: holds=%v why=%q", holds, why)
	}
}

func TestEvidenceCompound(t *testing.T) {
	ev, err := drift.ParseEvidence(json.RawMessage(`{"allOf": [
		{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
		{"anyOf": [
			{"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "equals": "Deny"},
			{"field": "Microsoft.Storage/storageAccounts/publicNetworkAccess", "equals": "Disabled"}
		]},
		{"not": {"field": "Microsoft.Storage/storageAccounts/networkAcls.bypass", "contains": "Logging"}},
		{"count": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]"}, "less": 3}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	if holds, why, err := ev.Check(resource(t, withDefaultAction(t, "Deny"))); !holds || err != nil {
		t.Errorf("Deny: holds=%v why=%q err=%v", holds, why, err)
	}
	pna := storageDoc(t, nil)
	pna["properties"].(map[string]any)["publicNetworkAccess"] = "Disabled"
	if holds, why, err := ev.Check(resource(t, pna)); !holds || err != nil {
		t.Errorf("public network access disabled: holds=%v why=%q err=%v", holds, why, err)
	}
	// Neither mitigation: both anyOf branches explain, at their place.
	holds, why, err := ev.Check(resource(t, storageDoc(t, nil)))
	if holds || err != nil {
		t.Fatalf("holds=%v err=%v", holds, err)
	}
	want := `allOf[1].anyOf[0]: properties.networkAcls.defaultAction is "Allow" (equals "Deny": false); ` +
		`allOf[1].anyOf[1]: properties.publicNetworkAccess is absent (equals "Disabled": false)`
	if why != want {
		t.Errorf("why = %q\nwant  %q", why, want)
	}
	deny := withDefaultAction(t, "Deny")
	deny["properties"].(map[string]any)["networkAcls"].(map[string]any)["bypass"] = "Logging, AzureServices"
	if holds, why, _ := ev.Check(resource(t, deny)); holds || why != `allOf[2].not: properties.networkAcls.bypass is "Logging, AzureServices" (contains "Logging": true)` {
		t.Errorf("bypass: holds=%v why=%q", holds, why)
	}
	many := withDefaultAction(t, "Deny")
	many["properties"].(map[string]any)["networkAcls"].(map[string]any)["ipRules"] = []any{map[string]any{}, map[string]any{}, map[string]any{}}
	if holds, why, _ := ev.Check(resource(t, many)); holds || why != `allOf[3]: count of Microsoft.Storage/storageAccounts/networkAcls.ipRules[*] is 3 (less 3: false)` {
		t.Errorf("count: holds=%v why=%q", holds, why)
	}
}

func TestParseEvidenceErrors(t *testing.T) {
	tests := []struct {
		raw    string
		target string
	}{
		{`{"field": "type", "equalz": "x"}`, "properties.evidence.condition.equalz"},
		{`{"allOf": [{"field": "type", "equals": "x"}, {"field": "name"}]}`, "properties.evidence.condition.allOf[1]"},
		{`{"anyOf": []}`, "properties.evidence.condition.anyOf"},
		{`{"field": "name", "in": "x"}`, "properties.evidence.condition.in"},
		{`{"field": "name", "equals": "[parameters('x')]"}`, "properties.evidence.condition.equals"},
		{`{"count": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules"}, "equals": 1}`, "properties.evidence.condition.count.field"},
		{`{"not": {"field": "name", "like": 5}}`, "properties.evidence.condition.not.like"},
		{`"just a string"`, "properties.evidence.condition"},
		{`{"field": "name", "equals": }`, "properties.evidence.condition"},
		{``, "properties.evidence.condition"},
		{`{"field": "name", "equals": "` + strings.Repeat("x", 70<<10) + `"}`, "properties.evidence.condition"},
	}
	for _, tt := range tests {
		_, err := drift.ParseEvidence(json.RawMessage(tt.raw))
		var pe *posture.Error
		if !errors.As(err, &pe) {
			t.Errorf("%.60s: err = %v, want *posture.Error", tt.raw, err)
			continue
		}
		if pe.Kind != posture.EINVALID || pe.Code != drift.CodeInvalidEvidence {
			t.Errorf("%.60s: %s/%s, want invalid/InvalidEvidence", tt.raw, pe.Kind, pe.Code)
		}
		targets := []string{pe.Target}
		for _, d := range pe.Details {
			targets = append(targets, d.Target)
			if d.Code != drift.CodeInvalidEvidence || d.Kind != posture.EINVALID {
				t.Errorf("%.60s: detail %+v", tt.raw, d)
			}
		}
		found := false
		for _, target := range targets {
			found = found || target == tt.target
		}
		if !found {
			t.Errorf("%.60s: targets %q, want %q (%v)", tt.raw, targets, tt.target, err)
		}
	}
	// Several problems: all of them, the first on top.
	_, err := drift.ParseEvidence(json.RawMessage(`{"allOf": [{"field": "a", "equalz": 1}, {"field": "b", "nope": 1}]}`))
	var pe *posture.Error
	if !errors.As(err, &pe) || len(pe.Details) < 2 || pe.Details[0].Target != pe.Target {
		t.Errorf("err = %#v", err)
	}
}

func TestEvidenceWarnings(t *testing.T) {
	ev, err := drift.ParseEvidence(json.RawMessage(`{"field": "Microsoft.Storage/storageAccounts/networkAcl.defaultAction", "equals": "Deny"}`))
	if err != nil {
		t.Fatal(err)
	}
	ws := ev.Warnings()
	if len(ws) != 1 || ws[0].Path != "properties.evidence.condition.field" {
		t.Errorf("warnings = %+v", ws)
	}
	ok, _ := drift.ParseEvidence(json.RawMessage(`{"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "equals": "Deny"}`))
	if ws := ok.Warnings(); len(ws) != 0 {
		t.Errorf("catalog alias warned: %+v", ws)
	}
}

func TestEvidenceEvaluationError(t *testing.T) {
	// less between a string and a number is a type mismatch: an error, not
	// a failed check.
	ev, err := drift.ParseEvidence(json.RawMessage(`{"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "less": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	holds, why, err := ev.Check(resource(t, storageDoc(t, nil)))
	if err == nil || holds || why != "" {
		t.Errorf("holds=%v why=%q err=%v", holds, why, err)
	}
	if _, _, err := ev.Check(nil); err == nil {
		t.Error("Check(nil) gave no error")
	}
}
