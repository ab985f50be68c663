package kql

import (
	"encoding/json"
	"strings"
	"testing"
)

// A row loads whenever encoding/json accepts it: nesting up to its limit
// of 10,000 levels, not one more (found by the request fuzzer: a resource
// PUT 600 levels deep was acknowledged and never reached Resource Graph).
func TestRowDepthMatchesEncodingJSON(t *testing.T) {
	for _, depth := range []int{2, 512, 513, 9_999, 10_000, 10_001} {
		row := []byte(`{"id":"/x","v":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`)
		db := NewDatabase()
		err := db.Upsert("T", row)
		if valid := json.Valid(row); (err == nil) != valid {
			t.Errorf("depth %d: json.Valid %v, Upsert %v", depth, valid, err)
		}
	}
	db := NewDatabase()
	deep := strings.Repeat("[", 5000) + "1" + strings.Repeat("]", 5000)
	if err := db.Upsert("T", []byte(`{"id":"/x","v":`+deep+`}`)); err != nil {
		t.Fatal(err)
	}
	q, err := Parse(`T | project s = tostring(v), n = array_length(v)`, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Run(t.Context(), db.Snapshot(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := res.WriteObjectArray(&out, 0, 10); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"n":1`) || !strings.Contains(out.String(), strings.Repeat("[", 5000)+"1") {
		t.Errorf("the deep value does not read back: %.200s", out.String())
	}
}
