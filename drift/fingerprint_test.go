package drift_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/posture/posture/drift"
)

func TestTakeStorageFlip(t *testing.T) {
	fields := drift.Fields(reference(t, defStoragePublicAccess))
	off := drift.Take(fields, resource(t, storageDoc(t, false)))
	on := drift.Take(fields, resource(t, storageDoc(t, true)))
	if off.Digest == on.Digest {
		t.Fatalf("digest unchanged when allowBlobPublicAccess flipped: %s", off.Digest)
	}
	if !strings.HasPrefix(off.Digest, "sha256:") || len(off.Digest) != len("sha256:")+64 {
		t.Errorf("digest = %q", off.Digest)
	}
	changes := drift.Changed(off, on)
	if len(changes) != 1 {
		t.Fatalf("changes = %+v", changes)
	}
	c := changes[0]
	if c.Path != "properties.allowBlobPublicAccess" || c.Kind != drift.Modified ||
		string(c.Old.Value) != "false" || string(c.New.Value) != "true" {
		t.Errorf("change = %+v (old %+v, new %+v)", c, c.Old, c.New)
	}
	if got, want := c.String(), "properties.allowBlobPublicAccess: false → true"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := drift.Changed(off, off); got != nil {
		t.Errorf("Changed(fp, fp) = %+v", got)
	}
}

// Fields the storage rule does not read never move its fingerprint.
func TestTakeIgnoresUnreadFields(t *testing.T) {
	fields := drift.Fields(reference(t, defStoragePublicAccess))
	base := drift.Take(fields, resource(t, storageDoc(t, false)))
	edits := map[string]func(doc map[string]any){
		"tags": func(doc map[string]any) { doc["tags"] = map[string]any{"owner": "someone else"} },
		"networkAcls": func(doc map[string]any) {
			doc["properties"].(map[string]any)["networkAcls"].(map[string]any)["defaultAction"] = "Deny"
		},
		"new property": func(doc map[string]any) { doc["properties"].(map[string]any)["minimumTlsVersion"] = "TLS1_2" },
		"location":     func(doc map[string]any) { doc["location"] = "westeurope" },
		"sku":          func(doc map[string]any) { doc["sku"] = map[string]any{"name": "Standard_LRS"} },
	}
	for name, edit := range edits {
		doc := storageDoc(t, false)
		edit(doc)
		fp := drift.Take(fields, resource(t, doc))
		if fp.Digest != base.Digest {
			t.Errorf("%s: digest changed: %+v", name, drift.Changed(base, fp))
		}
	}
	// The same edits do move a fingerprint that reads them.
	wide := append([]string{"location", "tags"}, fields...)
	doc := storageDoc(t, false)
	edits["tags"](doc)
	if a, b := drift.Take(wide, resource(t, storageDoc(t, false))), drift.Take(wide, resource(t, doc)); a.Digest == b.Digest {
		t.Error("a fingerprint that reads tags did not see them change")
	}
}

// Key order, spacing and number spelling do not change a digest.
func TestTakeCanonical(t *testing.T) {
	a := resourceJSON(t, `{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app",
		"type": "Microsoft.Web/sites", "location": "westeurope",
		"properties": {"siteConfig": {"minTlsVersion": "1.2", "http20Enabled": true, "numberOfWorkers": 1, "limits": {"maxMemoryInMb": 1024, "maxPercentageCpu": 0.5}},
			"ipRules": [{"value": "10.0.0.0/24", "priority": 100}, {"value": "10.1.0.0/24", "priority": 200}]}}`)
	b := resourceJSON(t, `{"properties":{"ipRules":[{"priority":1e2,"value":"10.0.0.0/24"},{"priority":200.0,"value":"10.1.0.0/24"}],
		"siteConfig":{"limits":{"maxPercentageCpu":5E-1,"maxMemoryInMb":1024.000},"numberOfWorkers":1.0,"http20Enabled":true,"minTlsVersion":"1.2"}},
		"location":"westeurope","type":"Microsoft.Web/sites","id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app"}`)
	fields := []string{"properties.siteConfig", "properties.ipRules[*]", "properties.ipRules[*].priority", "type"}
	fa, fb := drift.Take(fields, a), drift.Take(fields, b)
	if fa.Digest != fb.Digest {
		t.Fatalf("digests differ: %+v", drift.Changed(fa, fb))
	}
	if got := string(fa.Fields[2].Value); got != "[100,200]" {
		t.Errorf("ipRules[*].priority = %s, want [100,200]", got)
	}
	if got := string(fa.Fields[0].Value); got != `{"http20Enabled":true,"limits":{"maxMemoryInMb":1024,"maxPercentageCpu":0.5},"minTlsVersion":"1.2","numberOfWorkers":1}` {
		t.Errorf("siteConfig = %s", got)
	}
}

// The canonical form is a contract (fingerprints are stored): the digest
// of a small document, recomputed here from the documented form.
func TestTakeDigestContract(t *testing.T) {
	r := resourceJSON(t, `{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/sa",
		"type": "Microsoft.Storage/storageAccounts", "properties": {"allowBlobPublicAccess": false, "n": 1.50, "o": {"b": "x\u00e9\n", "a": null}}}`)
	fp := drift.Take([]string{"properties.allowBlobPublicAccess", "properties.missing", "properties.o", "properties.n", "properties.list[*]"}, r)
	canonical := `[{"path":"properties.allowBlobPublicAccess","value":false},{"path":"properties.missing"},` +
		`{"path":"properties.o","value":{"a":null,"b":"xé\n"}},{"path":"properties.n","value":1.5},{"path":"properties.list[*]","value":[]}]`
	sum := sha256.Sum256([]byte(canonical))
	if want := "sha256:" + hex.EncodeToString(sum[:]); fp.Digest != want {
		t.Errorf("digest = %s, want %s (sha256 of %s)", fp.Digest, want, canonical)
	}
	sum = sha256.Sum256([]byte(`{"a":null,"b":"xé\n"}`))
	if want := "sha256:" + hex.EncodeToString(sum[:]); fp.Fields[2].Digest != want {
		t.Errorf("field digest = %s, want %s", fp.Fields[2].Digest, want)
	}
}

// An absent field differs from a null one; a missing array reads as an
// empty collection, as the rule sees it.
func TestTakeAbsentNullAndCollections(t *testing.T) {
	fields := []string{"properties.allowBlobPublicAccess", "properties.networkAcls.ipRules[*].value"}
	absent := drift.Take(fields, resource(t, storageDoc(t, nil)))
	docNull := storageDoc(t, nil)
	docNull["properties"].(map[string]any)["allowBlobPublicAccess"] = nil
	null := drift.Take(fields, resource(t, docNull))
	if absent.Digest == null.Digest {
		t.Fatal("absent and null fingerprint the same")
	}
	if !absent.Fields[0].Absent || absent.Fields[0].Digest != "" || absent.Fields[0].Value != nil {
		t.Errorf("absent field = %+v", absent.Fields[0])
	}
	if null.Fields[0].Absent || string(null.Fields[0].Value) != "null" {
		t.Errorf("null field = %+v", null.Fields[0])
	}
	changes := drift.Changed(absent, null)
	if len(changes) != 1 || changes[0].String() != "properties.allowBlobPublicAccess: (absent) → null" {
		t.Errorf("changes = %v", changes)
	}

	// The example has "ipRules": []; without the array the rule sees the
	// same empty collection.
	noRules := storageDoc(t, nil)
	delete(noRules["properties"].(map[string]any)["networkAcls"].(map[string]any), "ipRules")
	if fp := drift.Take(fields, resource(t, noRules)); fp.Digest != absent.Digest || string(fp.Fields[1].Value) != "[]" {
		t.Errorf("missing array: %+v", fp.Fields[1])
	}
	// Values in document order: reordering the members is a change.
	rules := storageDoc(t, nil)
	acls := rules["properties"].(map[string]any)["networkAcls"].(map[string]any)
	acls["ipRules"] = []any{map[string]any{"value": "1.1.1.1"}, map[string]any{"action": "Allow"}, map[string]any{"value": "2.2.2.2"}}
	first := drift.Take(fields, resource(t, rules))
	if got := string(first.Fields[1].Value); got != `["1.1.1.1","2.2.2.2"]` {
		t.Errorf("ipRules[*].value = %s", got)
	}
	acls["ipRules"] = []any{map[string]any{"value": "2.2.2.2"}, map[string]any{"value": "1.1.1.1"}}
	if second := drift.Take(fields, resource(t, rules)); second.Digest == first.Digest {
		t.Error("reordered members fingerprint the same")
	}
}

func TestTakeLargeValuesKeepDigestOnly(t *testing.T) {
	long := strings.Repeat("x", 300)
	doc := storageDoc(t, long)
	fp := drift.Take([]string{"properties.allowBlobPublicAccess", "properties.primaryEndpoints"}, resource(t, doc))
	if fp.Fields[0].Value != nil || fp.Fields[0].Digest == "" {
		t.Errorf("a 302-byte value was kept: %+v", fp.Fields[0])
	}
	if len(fp.Fields[1].Value) > drift.MaxValueBytes || fp.Fields[1].Value != nil && !json.Valid(fp.Fields[1].Value) {
		t.Errorf("primaryEndpoints = %s", fp.Fields[1].Value)
	}
	fp2 := drift.Take([]string{"properties.allowBlobPublicAccess", "properties.primaryEndpoints"}, resource(t, storageDoc(t, long+"y")))
	c := drift.Changed(fp, fp2)
	if len(c) != 1 {
		t.Fatalf("changes = %v", c)
	}
	s := c[0].String()
	if !strings.HasPrefix(s, "properties.allowBlobPublicAccess: sha256:") || !strings.Contains(s, "… → sha256:") {
		t.Errorf("String = %q", s)
	}
}

func TestChangedAddedRemoved(t *testing.T) {
	r := resource(t, storageDoc(t, false))
	old := drift.Take([]string{"name", "properties.allowBlobPublicAccess", "type"}, r)
	cur := drift.Take([]string{"Properties.AllowBlobPublicAccess", "properties.minimumTlsVersion", "type"}, r)
	got := drift.Changed(old, cur)
	want := []string{
		"name: \"sto8596\" → (not read)",
		"properties.minimumTlsVersion: (not read) → (absent)",
	}
	var strs []string
	for _, c := range got {
		strs = append(strs, c.String())
	}
	if !reflect.DeepEqual(strs, want) {
		t.Errorf("changes = %q, want %q", strs, want)
	}
	if got[0].Kind != drift.Removed || got[0].New != nil || got[1].Kind != drift.Added || got[1].Old != nil {
		t.Errorf("kinds = %+v", got)
	}
}

// A fingerprint survives being stored as JSON.
func TestFingerprintJSON(t *testing.T) {
	fields := drift.Fields(reference(t, defStoragePublicAccess))
	fields = append(fields, "properties.missing")
	fp := drift.Take(fields, resource(t, storageDoc(t, false)))
	data, err := json.Marshal(fp)
	if err != nil {
		t.Fatal(err)
	}
	var back drift.Fingerprint
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, fp) {
		t.Errorf("round trip:\n%s\n%+v", data, back)
	}
	if !strings.Contains(string(data), `{"path":"properties.missing","absent":true}`) ||
		!strings.Contains(string(data), `{"path":"properties.allowBlobPublicAccess","digest":"sha256:`) {
		t.Errorf("JSON = %s", data)
	}
	c := drift.Changed(back, drift.Take(fields, resource(t, storageDoc(t, true))))
	data, _ = json.Marshal(c)
	if !strings.Contains(string(data), `"kind":"modified","old":{"digest":"sha256:`) || !strings.Contains(string(data), `"value":true}`) {
		t.Errorf("changes JSON = %s", data)
	}
}

func TestTakeNilResourceAndBadPath(t *testing.T) {
	fp := drift.Take([]string{"type", "properties..[", "properties.x[*]"}, nil)
	if !fp.Fields[0].Absent || !fp.Fields[1].Absent || string(fp.Fields[2].Value) != "[]" {
		t.Errorf("fields = %+v", fp.Fields)
	}
	r := resource(t, storageDoc(t, false))
	if fp := drift.Take([]string{"properties..["}, r); !fp.Fields[0].Absent {
		t.Errorf("bad path = %+v", fp.Fields[0])
	}
}

// Take is safe for concurrent use (its path cache is shared); run with
// -race.
func TestTakeConcurrent(t *testing.T) {
	r := resource(t, storageDoc(t, false))
	want := drift.Take([]string{"properties.allowBlobPublicAccess", "type"}, r).Digest
	done := make(chan string)
	for i := range 8 {
		go func() {
			fields := []string{"properties.allowBlobPublicAccess", "type"}
			drift.Take([]string{"properties.concurrent" + strings.Repeat("x", i)}, r)
			done <- drift.Take(fields, r).Digest
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Errorf("digest %s, want %s", got, want)
		}
	}
}
