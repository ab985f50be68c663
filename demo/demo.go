// Package demo generates deterministic cloud estates from real ARM example
// documents (examples/, from the Azure REST API specs, MIT): the demo estate
// that `posture serve --demo` loads, and synthetic estates of any size for
// benchmarks (`posture demo generate`). The same seed always gives the same
// documents. Names, locations, tags and the security-relevant properties
// vary, so that policy evaluation finds both healthy and unhealthy
// resources.
package demo

import (
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

//go:embed examples/*.json
var examples embed.FS

// TenantID is the demo tenant; its root management group has this name.
const TenantID = "8f0c3e2a-5d1b-4c7e-9a64-3b2d1e0f7a91"

// Generator produces an estate. The zero value plus Resources is usable.
type Generator struct {
	// Seed selects the estate; the demo uses seed 1.
	Seed uint64
	// Resources is the number of top-level resources (child and extension
	// resources such as subnets and diagnostic settings come on top).
	Resources int
	// Subscriptions overrides the number of subscriptions (default: 3, plus
	// one per 25,000 resources).
	Subscriptions int
	// ScannerChecks adds a scanner's findings: that many custom assessments
	// on every top-level resource, and their metadata in every
	// subscription (scanner.go).
	ScannerChecks int
}

// Demo returns the generator of the demo estate: 3 subscriptions under a
// two-level management group hierarchy, 320 resources of 13 types, one
// security contact and the Defender plans per subscription.
func Demo() *Generator { return &Generator{Seed: 1, Resources: 320} }

// Each calls fn with every document of the estate: management groups,
// subscriptions, resource groups, then resources, each container before what
// it holds. The documents are in ARM GET shape. Memory does not grow with
// the size of the estate.
func (g *Generator) Each(fn func(doc []byte) error) error {
	tpl, err := loadTemplates()
	if err != nil {
		return err
	}
	e := &emitter{g: g, tpl: tpl, fn: fn, rnd: rand.New(rand.NewPCG(g.Seed, 0x9e3779b97f4a7c15))}
	return e.run()
}

// guid derives a stable GUID-shaped id from parts.
func guid(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// template is an example document, decoded once.
type template struct {
	raw  string // the example, re-encoded compactly
	id   string // the example's own id, rewritten in copies
	name string
}

func loadTemplates() (map[string]*template, error) {
	entries, err := examples.ReadDir("examples")
	if err != nil {
		return nil, err
	}
	out := map[string]*template{}
	for _, e := range entries {
		b, err := examples.ReadFile("examples/" + e.Name())
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("demo: example %s: %w", e.Name(), err)
		}
		id, _ := doc["id"].(string)
		name, _ := doc["name"].(string)
		raw, _ := json.Marshal(doc) // decoded from JSON, so it encodes
		out[strings.TrimSuffix(e.Name(), ".json")] = &template{raw: string(raw), id: id, name: name}
	}
	return out, nil
}

// instance returns a copy of the template with its id (and, where
// distinctive, its name) replaced everywhere they occur, e.g. in nested ids
// and endpoint URLs.
func (t *template) instance(id, name string) map[string]any {
	s := strings.ReplaceAll(t.raw, t.id, id)
	if len(t.name) >= 6 {
		s = strings.ReplaceAll(s, t.name, name)
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(s), &doc)
	doc["id"], doc["name"] = id, name
	return doc
}

// set sets a dotted path in a document, creating objects on the way.
func set(doc map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}
