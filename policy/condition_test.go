package policy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

const conditionStorage = `{
	"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/sa",
	"type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
	"properties": {"allowBlobPublicAccess": %s, "networkAcls": {"defaultAction": "Deny",
		"ipRules": [{"value": "10.0.0.0/24", "action": "Allow"}, {"value": "10.1.0.0/24", "action": "Allow"}]}}
}`

func storageDoc(t *testing.T, allowPublic string) *Resource {
	return mustResourceJSON(t, strings.Replace(conditionStorage, "%s", allowPublic, 1))
}

func TestConditionEval(t *testing.T) {
	tests := []struct {
		name, cond string
		want       bool
	}{
		{"alias equals", `{"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "equals": "deny"}`, true},
		{"alias notEquals", `{"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "notEquals": "Deny"}`, false},
		{"allOf", `{"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"}, {"field": "Microsoft.Storage/storageAccounts/allowBlobPublicAccess", "equals": false}]}`, true},
		{"not", `{"not": {"field": "Microsoft.Storage/storageAccounts/allowBlobPublicAccess", "equals": "true"}}`, true},
		{"anyOf", `{"anyOf": [{"field": "location", "equals": "eastus"}, {"field": "name", "like": "s*"}]}`, true},
		{"count where", `{"count": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]", "where": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].action", "equals": "Allow"}}, "equals": 2}`, true},
		{"value with field()", `{"value": "[length(field('Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]'))]", "greater": 2}`, false},
		{"value count", `{"count": {"value": ["a", "b"], "name": "x", "where": {"value": "[current('x')]", "equals": "b"}}, "equals": 1}`, true},
		{"exists", `{"field": "Microsoft.Storage/storageAccounts/minimumTlsVersion", "exists": false}`, true},
	}
	r := storageDoc(t, "false")
	for _, tt := range tests {
		c, err := ParseCondition([]byte(tt.cond), ConditionOptions{})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got, reasons, err := c.Eval(context.Background(), r, EvalOptions{})
		if err != nil || got != tt.want {
			t.Errorf("%s: Eval = %v, %v; want %v", tt.name, got, err, tt.want)
		}
		if len(reasons) == 0 {
			t.Errorf("%s: no reasons", tt.name)
		}
	}
}

func TestConditionReasons(t *testing.T) {
	c, err := ParseCondition([]byte(`{"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
		{"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "equals": "Allow"}]}`),
		ConditionOptions{Path: "properties.evidence.condition"})
	if err != nil {
		t.Fatal(err)
	}
	got, reasons, err := c.Eval(context.Background(), storageDoc(t, "true"), EvalOptions{})
	if err != nil || got {
		t.Fatalf("Eval = %v, %v", got, err)
	}
	// Only the false child explains a false allOf.
	if len(reasons) != 1 {
		t.Fatalf("reasons = %+v", reasons)
	}
	rs := reasons[0]
	if rs.Condition != "properties.evidence.condition.allOf[1]" || rs.Path != "properties.networkAcls.defaultAction" ||
		rs.Actual != "Deny" || rs.Expected != "Allow" || rs.Operator != "equals" || rs.Result {
		t.Errorf("reason = %+v", rs)
	}
	if _, reasons, _ := c.Eval(context.Background(), storageDoc(t, "true"), EvalOptions{Reasons: ReasonsNone}); reasons != nil {
		t.Errorf("ReasonsNone gave %+v", reasons)
	}
	if fs := c.Fields(); len(fs) != 2 || fs[1].Path != "properties.networkAcls.defaultAction" {
		t.Errorf("Fields = %+v", fs)
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct {
		cond, code, path string
	}{
		{`{"field": "type", "equalz": "x"}`, CodeInvalidPolicyRule, "c.equalz"},
		{`{"allOf": [{"field": "type", "equals": "x"}, {"field": "name"}]}`, CodeInvalidPolicyRule, "c.allOf[1]"},
		{`{"anyOf": {}}`, CodeInvalidPolicyRule, "c.anyOf"},
		{`{"field": "type", "in": "notAnArray"}`, CodeInvalidPolicyRule, "c.in"},
		{`{"field": "[concat('a',]", "equals": "x"}`, CodeInvalidPolicyRule, "c.field"},
		{`{"field": "name", "equals": "[parameters('p')]"}`, CodeInvalidPolicyParameters, "c.equals"},
		{`{"count": {"field": "Microsoft.Storage/storageAccounts/networkAcls.ipRules"}, "equals": 0}`, CodeInvalidPolicyRule, "c.count.field"},
		{`[1]`, CodeInvalidPolicyRule, "c"},
		{`{"field": `, CodeInvalidPolicyRule, "c"},
	}
	for _, tt := range tests {
		_, err := ParseCondition([]byte(tt.cond), ConditionOptions{Path: "c"})
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Errorf("%s: err = %v, want Errors", tt.cond, err)
			continue
		}
		found := false
		for _, e := range es {
			found = found || e.Code == tt.code && e.Path == tt.path
		}
		if !found {
			t.Errorf("%s: got %v, want %s at %q", tt.cond, err, tt.code, tt.path)
		}
	}
	if _, err := ParseCondition([]byte(`{"field": "x", "equals": 1}`), ConditionOptions{}); ErrorCode(err) != "" {
		t.Errorf("unknown one-segment field rejected: %v", err)
	}
}

func TestConditionUnknownAliasWarns(t *testing.T) {
	c, err := ParseCondition([]byte(`{"field": "Microsoft.Storage/storageAccounts/noSuchThing", "equals": "x"}`), ConditionOptions{Path: "e"})
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings()
	if len(ws) != 1 || ws[0].Code != CodeInvalidPolicyAlias || ws[0].Path != "e.field" {
		t.Errorf("warnings = %+v", ws)
	}
}

// A definition's if-condition compiled on its own decides as the rule does.
func TestConditionMatchesRule(t *testing.T) {
	data, err := os.ReadFile("builtin/built-in-policies/policyDefinitions/Storage/ASC_Storage_DisallowPublicBlobAccess_Audit.json")
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		Properties struct {
			PolicyRule struct {
				If json.RawMessage `json:"if"`
			} `json:"policyRule"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &def); err != nil {
		t.Fatal(err)
	}
	c, err := ParseCondition(def.Properties.PolicyRule.If, ConditionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[string]bool{"true": true, "false": false, `"False"`: false, "null": true} {
		got, _, err := c.Eval(context.Background(), storageDoc(t, doc), EvalOptions{})
		if err != nil || got != want {
			t.Errorf("allowBlobPublicAccess %s: Eval = %v, %v; want %v", doc, got, err, want)
		}
	}
}

func TestConditionEvalError(t *testing.T) {
	c, err := ParseCondition([]byte(`{"value": "[int('x')]", "equals": 1}`), ConditionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Eval(context.Background(), storageDoc(t, "true"), EvalOptions{}); err == nil {
		t.Error("Eval of int('x') gave no error")
	}
	if _, _, err := c.Eval(context.Background(), nil, EvalOptions{}); err == nil {
		t.Error("Eval of a nil resource gave no error")
	}
}
