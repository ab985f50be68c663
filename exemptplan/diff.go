package exemptplan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// compare makes the action that turns cur into d.
func compare(ix *index, d *Desired, cur *Exemption, opts Options) Action {
	act := Action{Kind: Update, ID: d.ID, Desired: d, Current: cur}
	d.Kept = cur.Kept
	if m, _ := ownership(cur); !m {
		act.Adopt = true
	}
	act.Reasons = diff(cur, d)
	if key(cur.AssignmentID) != key(d.AssignmentID) && ix.assignments[key(cur.AssignmentID)] == nil {
		act.Kind = Rebind
	}
	switch {
	case len(act.Reasons) == 0:
		act.Kind = NoChange
	case act.Adopt:
		act.Reasons = append([]string{"adopted: made elsewhere, now owned by the files (owner id " + opts.OwnerID + ")"}, act.Reasons...)
	}
	return act
}

// diff lists the fields that differ, one reason each, as
// "field: old → new".
func diff(cur *Exemption, d *Desired) []string {
	var out []string
	add := func(field, old, new string) { out = append(out, field+": "+old+" → "+new) }
	if key(cur.AssignmentID) != key(d.AssignmentID) {
		add("policyAssignmentId", cur.AssignmentID, d.AssignmentID)
	}
	if !sameRefs(cur.ReferenceIDs, d.ReferenceIDs) {
		add("policyDefinitionReferenceIds", refsText(cur.ReferenceIDs), refsText(d.ReferenceIDs))
	}
	if !strings.EqualFold(cur.Category, d.Category) {
		add("exemptionCategory", cur.Category, d.Category)
	}
	if !cur.ExpiresOn.Equal(d.ExpiresOn) {
		add("expiresOn", timeText(cur.ExpiresOn), timeText(d.ExpiresOn))
	}
	if cur.DisplayName != d.DisplayName {
		add("displayName", textOf(cur.DisplayName), textOf(d.DisplayName))
	}
	if cur.Description != d.Description {
		add("description", textOf(cur.Description), textOf(d.Description))
	}
	if scopeValidation(cur.AssignmentScopeValidation) != scopeValidation(d.AssignmentScopeValidation) {
		add("assignmentScopeValidation", scopeValidation(cur.AssignmentScopeValidation), scopeValidation(d.AssignmentScopeValidation))
	}
	if !sameJSON(cur.ResourceSelectors, d.ResourceSelectors) {
		add("resourceSelectors", jsonText(cur.ResourceSelectors), jsonText(d.ResourceSelectors))
	}
	if !sameJSON(cur.ResourceFilter, d.ResourceFilter) {
		add("resourceFilter", jsonText(cur.ResourceFilter), jsonText(d.ResourceFilter))
	}
	keys := map[string]bool{}
	for k := range cur.Metadata {
		keys[k] = true
	}
	for k := range d.Metadata {
		keys[k] = true
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		o, ook := cur.Metadata[k]
		n, nok := d.Metadata[k]
		if ook != nok || !reflect.DeepEqual(o, n) {
			add("metadata."+k, valueText(o, ook), valueText(n, nok))
		}
	}
	return out
}

// Same reports whether two readings of an exemption are the same: apply
// checks that what it is about to change is what it planned from.
func Same(a, b *Exemption) bool {
	if a == nil || b == nil {
		return a == b
	}
	d := &Desired{AssignmentID: b.AssignmentID, ReferenceIDs: b.ReferenceIDs, Category: b.Category, ExpiresOn: b.ExpiresOn,
		DisplayName: b.DisplayName, Description: b.Description, Metadata: b.Metadata, ResourceSelectors: b.ResourceSelectors,
		ResourceFilter: b.ResourceFilter, AssignmentScopeValidation: b.AssignmentScopeValidation}
	if len(a.Kept) != len(b.Kept) {
		return false
	}
	for k, v := range a.Kept {
		if !sameJSON(v, b.Kept[k]) {
			return false
		}
	}
	return len(diff(a, d)) == 0
}

func sameRefs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	as, bs := lowerSorted(a), lowerSorted(b)
	return slices.Equal(as, bs)
}

func lowerSorted(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	slices.Sort(out)
	return out
}

func refsText(r []string) string {
	if len(r) == 0 {
		return "(all)"
	}
	return "[" + strings.Join(r, ", ") + "]"
}

// timeText writes a midnight UTC as a date, other times in RFC 3339.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "(never)"
	}
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

func textOf(s string) string {
	if s == "" {
		return "(none)"
	}
	return clip(fmt.Sprintf("%q", s))
}

func valueText(v any, ok bool) string {
	if !ok {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	return clip(string(b))
}

func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "(none)"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return clip(string(raw))
	}
	return clip(buf.String())
}

// clip keeps reasons readable; 160 characters hold any ARM id we quote.
func clip(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

func scopeValidation(s string) string {
	if s == "" {
		return "Default"
	}
	return s
}

// sameJSON compares two JSON values by meaning; absent, null and an empty
// array are the same.
func sameJSON(a, b json.RawMessage) bool {
	va, vb := jsonValue(a), jsonValue(b)
	return reflect.DeepEqual(va, vb)
}

func jsonValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	if arr, ok := v.([]any); ok && len(arr) == 0 {
		return nil
	}
	return v
}
