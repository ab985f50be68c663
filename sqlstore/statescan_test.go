package sqlstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/posture/posture"
)

func TestScanStatesRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 123000, time.UTC)
	in := []posture.PolicyState{
		{ReferenceID: "r1", State: posture.StateCompliant, Effect: "Audit", FirstEvaluated: at, ChangedAt: at.Add(time.Hour)},
		{ReferenceID: `q"uote\back<&>`, State: posture.StateError, Effect: "Deny", Error: "line\nbreak é \u2028", FirstEvaluated: at},
		{ReferenceID: "", State: posture.StateDisabled},
		{ReferenceID: "r2", State: posture.StateNonCompliant, Effect: "Audit", FirstEvaluated: at,
			Exemption: "/subscriptions/s/providers/microsoft.authorization/policyexemptions/x", ExemptionCategory: "Waiver", ExemptUntil: at.Add(24 * time.Hour)},
		{ReferenceID: "r3", State: posture.StateNonCompliant, Exemption: "/x", ExemptionCategory: "Mitigated"},
	}
	text := encodeStates(in)
	got, ok := scanStates(text)
	if !ok || !reflect.DeepEqual(got, in) {
		t.Errorf("scan %s:\n got %+v %v\nwant %+v", text, got, ok, in)
	}
	if got, ok := scanStates("[]"); !ok || len(got) != 0 {
		t.Errorf("empty: %v %v", got, ok)
	}
}

// Whatever the fast path accepts, encoding/json reads the same way.
func FuzzScanStates(f *testing.F) {
	f.Add(encodeStates([]posture.PolicyState{{ReferenceID: "a", State: "Compliant", Effect: "Audit", FirstEvaluated: time.UnixMicro(5)}}))
	f.Add(`[["a","b","c","d",1,2],["e\"","f","g","h",3,4]]`)
	f.Add(`[["a","b","c","d",1,2]`)
	f.Add(`[["a","b","c","d",-1,2]]`)
	f.Add(`[["a","b","c","d",1.5,2]]`)
	f.Add(`[["a","b","c","d",1,2,"/x","Waiver",3]]`)
	f.Add(`[["a","b","c","d",1,2,"","Waiver",3]]`)
	f.Add(`[["a","b","c","d",1,2,"/x","Waiver"]]`)
	f.Fuzz(func(t *testing.T, text string) {
		fast, ok := scanStates(text)
		if !ok {
			return
		}
		slow, err := decodeStatesJSON(text)
		if err != nil {
			t.Fatalf("the fast path accepted %q, encoding/json says %v", text, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", text, fast, slow)
		}
	})
}
