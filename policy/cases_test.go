package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The conformance corpus: one YAML file per case under testdata/cases. A
// case names a definition (built-in or inline) or an initiative member, a
// resource document (inline, or a base file from testdata/resources with
// edits), related documents and parameters, and the expected compliance
// state and effect — or the expected error code. Each file's comments state
// where the expectation comes from. See testdata/cases/README.md.

type conformanceCase struct {
	Description string         `yaml:"description"`
	Definition  any            `yaml:"definition"` // "builtin:<name>" or an inline definition
	Initiative  any            `yaml:"initiative"` // "builtin:<name>" or an inline initiative
	Reference   string         `yaml:"reference"`
	Params      map[string]any `yaml:"params"`
	Assignment  map[string]any `yaml:"assignment"` // more assignment properties (notScopes, overrides, ...)
	Resource    any            `yaml:"resource"`
	Related     []any          `yaml:"related"`
	Options     struct {
		APIVersion string `yaml:"apiVersion"`
		Now        string `yaml:"now"`
		Exempt     bool   `yaml:"exempt"`
	} `yaml:"options"`
	Want struct {
		State     string `yaml:"state"`
		Effect    string `yaml:"effect"`
		Error     string `yaml:"error"`
		ErrorPath string `yaml:"errorPath"`
		Reason    string `yaml:"reason"`  // a substring of the reasons' JSON
		Warning   string `yaml:"warning"` // a substring of a warning message
	} `yaml:"want"`
}

// loadCases reads every case file; the key is the path under testdata/cases.
func loadCases(t testing.TB) map[string]*conformanceCase {
	t.Helper()
	out := map[string]*conformanceCase{}
	root := filepath.Join("testdata", "cases")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var c conformanceCase
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = &c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConformanceCases(t *testing.T) {
	cases := loadCases(t)
	if len(cases) == 0 {
		t.Fatal("no conformance cases found")
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cases[name]
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			got, err := runCase(c)
			if c.Want.Error != "" {
				if err == nil {
					t.Fatalf("want error %s, got state %s", c.Want.Error, got.state)
				}
				if code := ErrorCode(err); code != c.Want.Error {
					t.Fatalf("error code = %q, want %q (%v)", code, c.Want.Error, err)
				}
				if c.Want.ErrorPath != "" && !errorHasPath(err, c.Want.ErrorPath) {
					t.Fatalf("error %v has no problem at path %q", err, c.Want.ErrorPath)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if string(got.state) != c.Want.State {
				t.Errorf("state = %s, want %s\nreasons: %s\nerror: %v", got.state, c.Want.State, mustJSON(got.reasons), got.err)
			}
			if c.Want.Effect != "" && !strings.EqualFold(string(got.effect), c.Want.Effect) {
				t.Errorf("effect = %s, want %s", got.effect, c.Want.Effect)
			}
			if c.Want.Reason != "" && !strings.Contains(mustJSON(got.reasons), c.Want.Reason) {
				t.Errorf("reasons do not mention %q: %s", c.Want.Reason, mustJSON(got.reasons))
			}
			if c.Want.Warning != "" && !strings.Contains(mustJSON(got.warnings), c.Want.Warning) {
				t.Errorf("warnings do not mention %q: %s", c.Want.Warning, mustJSON(got.warnings))
			}
		})
	}
}

func errorHasPath(err error, path string) bool {
	var es Errors
	if errors.As(err, &es) {
		for _, e := range es {
			if e.Path == path {
				return true
			}
		}
	}
	var e *Error
	return errors.As(err, &e) && e.Path == path
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

type caseResult struct {
	state    ComplianceState
	effect   Effect
	reasons  []Reason
	warnings []Warning
	err      error
}

// runCase evaluates one case. Definition, initiative and compile problems
// are returned as errors; evaluation problems are the Error state.
func runCase(c *conformanceCase) (caseResult, error) {
	builtins, err := Builtins()
	if err != nil {
		return caseResult{}, err
	}
	reg := builtins
	var res caseResult
	a := &Assignment{ID: "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/policyAssignments/conformance", Parameters: c.Params}
	if c.Definition != nil || isInline(c.Initiative) {
		reg = NewRegistry()
		for _, d := range builtins.Definitions() {
			_ = reg.AddDefinition(d)
		}
	}
	if c.Definition != nil {
		d, err := caseDefinition(c.Definition, builtins)
		if err != nil {
			return res, err
		}
		res.warnings = d.Warnings
		if d.ID == "" {
			d.ID = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/policyDefinitions/case"
		}
		_ = reg.AddDefinition(d)
		a.PolicyDefinitionID = d.ID
	}
	if c.Initiative != nil {
		s, err := caseSetDefinition(c.Initiative, builtins)
		if err != nil {
			return res, err
		}
		if isInline(c.Initiative) {
			if s.ID == "" {
				s.ID = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/policySetDefinitions/case"
			}
			if err := reg.ValidateSetDefinition(s); err != nil {
				return res, err
			}
			_ = reg.AddSetDefinition(s)
		}
		a.PolicyDefinitionID = s.ID
	}
	if len(c.Assignment) > 0 {
		raw, _ := json.Marshal(c.Assignment)
		if err := json.Unmarshal(raw, a); err != nil {
			return res, err
		}
	}
	ca, err := Compile(a, reg)
	if err != nil {
		return res, err
	}
	cr := ca.References[0]
	if c.Reference != "" {
		var ok bool
		if cr, ok = ca.Reference(c.Reference); !ok {
			return res, fmt.Errorf("no reference %q", c.Reference)
		}
	}
	doc, err := caseDocument(c.Resource)
	if err != nil {
		return res, fmt.Errorf("resource: %w", err)
	}
	r, err := NewResource(doc)
	if err != nil {
		return res, err
	}
	all := []*Resource{r}
	for i, rel := range c.Related {
		doc, err := caseDocument(rel)
		if err != nil {
			return res, fmt.Errorf("related %d: %w", i, err)
		}
		rr, err := NewResource(doc)
		if err != nil {
			return res, err
		}
		all = append(all, rr)
	}
	opts := EvalOptions{Reasons: ReasonsAll, APIVersion: c.Options.APIVersion}
	if c.Options.Now != "" {
		if opts.Now, err = time.Parse(time.RFC3339, c.Options.Now); err != nil {
			return res, err
		}
	}
	if c.Options.Exempt {
		opts.IsExempt = func(*CompiledAssignment, *CompiledReference, *Resource) bool { return true }
	}
	result, ok := ca.EvaluateReference(context.Background(), cr, r, NewIndex(all...), opts)
	if !ok {
		res.state = StateNotApplicable
		res.effect = cr.effectFor(r)
		return res, nil
	}
	res.state, res.effect, res.reasons, res.err = result.State, result.Effect, result.Reasons, result.Err
	return res, nil
}

func isInline(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func caseDefinition(v any, builtins *Registry) (*Definition, error) {
	if s, ok := v.(string); ok {
		name, found := strings.CutPrefix(s, "builtin:")
		if !found {
			return nil, fmt.Errorf("definition must be builtin:<name> or an inline document, got %q", s)
		}
		d, ok := builtins.Definition(name)
		if !ok {
			return nil, fmt.Errorf("no built-in definition %s", name)
		}
		return d, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return ParseDefinition(raw)
}

func caseSetDefinition(v any, builtins *Registry) (*SetDefinition, error) {
	if s, ok := v.(string); ok {
		name, _ := strings.CutPrefix(s, "builtin:")
		set, ok := builtins.SetDefinition(name)
		if !ok {
			return nil, fmt.Errorf("no built-in initiative %s", name)
		}
		return set, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return ParseSetDefinition(raw)
}

// caseDocument builds a resource document: inline, or
// {base: file, set: {path: value}, delete: [path]} where paths are dotted
// with [n] indexes.
func caseDocument(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a document must be a mapping")
	}
	base, hasBase := m["base"].(string)
	if !hasBase {
		return toJSONModel(m)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "resources", base))
	if err != nil {
		return nil, err
	}
	dv, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	doc, _ := dv.(map[string]any)
	if set, ok := m["set"].(map[string]any); ok {
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val, err := toJSONModel(set[k])
			if err != nil {
				return nil, err
			}
			if err := setPath(doc, k, val); err != nil {
				return nil, fmt.Errorf("set %s: %w", k, err)
			}
		}
	}
	if del, ok := m["delete"].([]any); ok {
		for _, p := range del {
			ps, _ := p.(string)
			if err := deletePath(doc, ps); err != nil {
				return nil, fmt.Errorf("delete %s: %w", ps, err)
			}
		}
	}
	for k := range m {
		if k != "base" && k != "set" && k != "delete" {
			return nil, fmt.Errorf("unknown document key %q", k)
		}
	}
	return doc, nil
}

// toJSONModel converts YAML-decoded values to the JSON value model.
func toJSONModel[T any](v T) (T, error) {
	var out T
	raw, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	dv, err := decodeJSON(raw)
	if err != nil {
		return out, err
	}
	out, _ = dv.(T)
	return out, nil
}

type patchStep struct {
	key   string
	index int // -1 for a key step
}

func parsePatchPath(p string) ([]patchStep, error) {
	var steps []patchStep
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				steps = append(steps, patchStep{key: part, index: -1})
				break
			}
			if i > 0 {
				steps = append(steps, patchStep{key: part[:i], index: -1})
			}
			j := strings.IndexByte(part, ']')
			if j < i {
				return nil, fmt.Errorf("bad path %q", p)
			}
			n, err := strconv.Atoi(part[i+1 : j])
			if err != nil {
				return nil, fmt.Errorf("bad index in %q", p)
			}
			steps = append(steps, patchStep{index: n})
			part = part[j+1:]
		}
	}
	return steps, nil
}

// setPath sets a value, creating objects on the way.
func setPath(doc map[string]any, p string, val any) error {
	steps, err := parsePatchPath(p)
	if err != nil {
		return err
	}
	var cur any = doc
	for i, s := range steps {
		last := i == len(steps)-1
		switch c := cur.(type) {
		case map[string]any:
			if s.index >= 0 {
				return fmt.Errorf("index on an object")
			}
			if last {
				c[s.key] = val
				return nil
			}
			next, ok := c[s.key]
			if !ok || next == nil {
				if steps[i+1].index >= 0 {
					next = []any{}
				} else {
					next = map[string]any{}
				}
				c[s.key] = next
			}
			if arr, ok := next.([]any); ok && steps[i+1].index >= len(arr) {
				for len(arr) <= steps[i+1].index {
					arr = append(arr, map[string]any{})
				}
				c[s.key] = arr
				next = arr
			}
			cur = next
		case []any:
			if s.index < 0 || s.index >= len(c) {
				return fmt.Errorf("index %d out of range", s.index)
			}
			if last {
				c[s.index] = val
				return nil
			}
			cur = c[s.index]
		default:
			return fmt.Errorf("cannot descend into %T", cur)
		}
	}
	return nil
}

func deletePath(doc map[string]any, p string) error {
	steps, err := parsePatchPath(p)
	if err != nil {
		return err
	}
	var cur any = doc
	for i, s := range steps {
		last := i == len(steps)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				delete(c, s.key)
				return nil
			}
			cur = c[s.key]
		case []any:
			if s.index < 0 || s.index >= len(c) {
				return fmt.Errorf("index %d out of range", s.index)
			}
			cur = c[s.index]
		default:
			return nil // already absent
		}
	}
	return nil
}
