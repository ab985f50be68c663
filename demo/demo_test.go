package demo_test

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/demo"
)

func TestDemoEstate(t *testing.T) {
	types := map[string]int{}
	seen := map[string]bool{}
	var tracked, groups, subs, contacts int
	err := demo.Demo().Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		if err != nil {
			t.Fatalf("demo document does not normalise: %v\n%s", err, raw)
		}
		if seen[r.Key] {
			t.Errorf("duplicate id %s", r.ID)
		}
		seen[r.Key] = true
		// Every container comes before what it holds.
		if r.ParentKey != "" && !seen[r.ParentKey] {
			t.Errorf("%s comes before its parent %s", r.ID, r.ParentKey)
		}
		id := armid.MustParse(r.ID)
		switch {
		case r.Tracked:
			tracked++
			types[r.TypeKey()]++
		case id.Kind() == armid.ManagementGroup:
			groups++
		case id.Kind() == armid.Subscription:
			subs++
		case strings.EqualFold(r.Type, "Microsoft.Security/securityContacts"):
			contacts++
			var doc struct {
				Properties struct {
					Emails string `json:"emails"`
					Phone  string `json:"phone"`
				} `json:"properties"`
			}
			json.Unmarshal(r.Body, &doc)
			if !strings.Contains(doc.Properties.Emails, "@") || doc.Properties.Phone == "" {
				t.Errorf("security contact without email or phone: %s", r.Body)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tracked < 300 {
		t.Errorf("%d resources, want at least 300", tracked)
	}
	if len(types) < 12 {
		t.Errorf("%d resource types, want at least 12: %v", len(types), types)
	}
	if groups < 2 || subs < 2 || contacts != subs {
		t.Errorf("%d management groups, %d subscriptions, %d security contacts", groups, subs, contacts)
	}
}

// TestDemoMixesPosture checks that the generated settings are not all good
// or all bad, so that evaluation will find both healthy and unhealthy
// resources.
func TestDemoMixesPosture(t *testing.T) {
	https := map[bool]int{}
	err := demo.Demo().Each(func(raw []byte) error {
		var doc struct {
			Type       string `json:"type"`
			Properties struct {
				HTTPSOnly *bool `json:"supportsHttpsTrafficOnly"`
			} `json:"properties"`
		}
		json.Unmarshal(raw, &doc)
		if doc.Type == "Microsoft.Storage/storageAccounts" && doc.Properties.HTTPSOnly != nil {
			https[*doc.Properties.HTTPSOnly]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if https[true] == 0 || https[false] == 0 {
		t.Errorf("storage accounts with HTTPS only true/false: %v", https)
	}
}

func digest(t *testing.T, g *demo.Generator) ([32]byte, int) {
	h := sha256.New()
	n := 0
	if err := g.Each(func(raw []byte) error { n++; h.Write(raw); return nil }); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, n
}

func TestDeterministic(t *testing.T) {
	a, n := digest(t, demo.Demo())
	b, _ := digest(t, demo.Demo())
	if a != b {
		t.Error("two runs of the demo estate differ")
	}
	c, _ := digest(t, &demo.Generator{Seed: 2, Resources: 320})
	if a == c {
		t.Error("another seed gives the same estate")
	}
	if _, m := digest(t, &demo.Generator{Seed: 1, Resources: 5000}); m < 5000 {
		t.Errorf("5,000 resources gave %d documents", m)
	}
	_ = n
}

func BenchmarkGenerate(b *testing.B) {
	g := &demo.Generator{Seed: 7, Resources: 1000}
	for b.Loop() {
		if err := g.Each(func([]byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScannerFindings: with ScannerChecks, every top-level resource gets
// that many custom assessments, each after its resource and named by a
// check whose metadata its subscription holds.
func TestScannerFindings(t *testing.T) {
	const checks, resources = 4, 200
	var tracked, found int
	seen := map[string]bool{}
	metadata := map[string]bool{} // lower-case metadata ids
	status := map[string]int{}
	err := (&demo.Generator{Seed: 3, Resources: resources, ScannerChecks: checks}).Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		if err != nil {
			t.Fatalf("document does not normalise: %v\n%s", err, raw)
		}
		seen[r.Key] = true
		switch r.TypeKey() {
		case "microsoft.security/assessmentmetadata":
			metadata[r.Key] = true
		case "microsoft.security/assessments":
			found++
			id, _ := armid.Parse(r.ID)
			target := id.Scope().Key()
			if !seen[target] {
				t.Errorf("%s comes before its resource", r.ID)
			}
			if meta := "/subscriptions/" + id.SubscriptionID() + "/providers/microsoft.security/assessmentmetadata/" + strings.ToLower(id.Name()); !metadata[meta] {
				t.Errorf("%s: no metadata %s before it", r.ID, meta)
			}
			var doc struct {
				Properties struct {
					ResourceDetails struct{ Source, ID string }
					Status          struct{ Code string }
				}
			}
			json.Unmarshal(raw, &doc)
			if !strings.EqualFold(doc.Properties.ResourceDetails.ID, target) || doc.Properties.ResourceDetails.Source != "Azure" {
				t.Errorf("%s: resourceDetails %+v", r.ID, doc.Properties.ResourceDetails)
			}
			status[doc.Properties.Status.Code]++
		default:
			if r.Tracked {
				tracked++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tracked != resources || found != checks*resources {
		t.Errorf("%d top-level resources, %d assessments; want %d and %d", tracked, found, resources, checks*resources)
	}
	if status["Healthy"]+status["Unhealthy"] != found || status["Unhealthy"] == 0 || status["Healthy"] == 0 {
		t.Errorf("statuses %v", status)
	}
}
