package match_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/posture/posture"
	"github.com/posture/posture/match"
)

// testCase is one conformance case of testdata/cases (format in the README
// there).
type testCase struct {
	Name     string    `yaml:"name"`
	Spec     string    `yaml:"spec"`
	Filter   yaml.Node `yaml:"filter"`
	Resource resource  `yaml:"resource"`
	Match    *bool     `yaml:"match"`
	Error    *struct {
		Code    string `yaml:"code"`
		Target  string `yaml:"target"`
		Message string `yaml:"message"` // a substring of the first problem's message
		Details int    `yaml:"details"` // how many problems, when more than one
	} `yaml:"error"`
	Explain   yaml.Node `yaml:"explain"` // exact text, or a list of substrings
	Canonical *struct {
		JSON   string `yaml:"json"`
		String string `yaml:"string"`
	} `yaml:"canonical"`
	Lint  *[]string    `yaml:"lint"` // substrings, one per expected warning
	Needs *match.Needs `yaml:"needs"`

	file string
	raw  []byte // the filter as JSON
}

type resource struct {
	ID             string            `yaml:"id"`
	Name           string            `yaml:"name"`
	Type           string            `yaml:"type"`
	Location       string            `yaml:"location"`
	ResourceGroup  string            `yaml:"resourceGroup"`
	SubscriptionID string            `yaml:"subscriptionId"`
	Tags           map[string]string `yaml:"tags"`
}

func (r resource) resource() *match.Resource {
	return &match.Resource{ID: r.ID, Name: r.Name, Type: r.Type, Location: r.Location,
		ResourceGroup: r.ResourceGroup, SubscriptionID: r.SubscriptionID, Tags: r.Tags}
}

const prefix = "properties.resourceFilter"

// loadCases reads every case file; a malformed case fails the test.
func loadCases(tb testing.TB) []*testCase {
	tb.Helper()
	files, err := filepath.Glob("testdata/cases/*.yaml")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no case files: %v", err)
	}
	sections := specSections(tb)
	var all []*testCase
	names := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		var cases []*testCase
		if err := yaml.Unmarshal(data, &cases); err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		for _, c := range cases {
			c.file = strings.TrimSuffix(filepath.Base(file), ".yaml")
			id := c.file + "/" + c.Name
			switch {
			case c.Name == "" || names[id]:
				tb.Fatalf("%s: a case without a name, or a repeated name %q", file, c.Name)
			case !sections[strings.TrimPrefix(c.Spec, "§")]:
				tb.Fatalf("%s: spec %q is not a section of docs/resource-filters.md", id, c.Spec)
			case (c.Match == nil) == (c.Error == nil):
				tb.Fatalf("%s: a case has either match or error", id)
			}
			names[id] = true
			if c.raw, err = filterJSON(&c.Filter); err != nil {
				tb.Fatalf("%s: filter: %v", id, err)
			}
			all = append(all, c)
		}
	}
	return all
}

// specSections lists the numbered sections of the spec ("4", "4.2").
func specSections(tb testing.TB) map[string]bool {
	data, err := os.ReadFile("../docs/resource-filters.md")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^##+ (\d+(?:\.\d+)*)\.? `).FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = true
	}
	return out
}

// filterJSON turns a case's filter into JSON text. A quoted YAML string is
// taken as the JSON text itself, for filters YAML cannot hold (duplicate
// keys, invalid JSON); anything else is converted keeping key order.
func filterJSON(n *yaml.Node) ([]byte, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []byte(n.Value), nil
	}
	var sb strings.Builder
	err := nodeJSON(&sb, n)
	return []byte(sb.String()), err
}

func nodeJSON(sb *strings.Builder, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		sb.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 {
				sb.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			sb.Write(k)
			sb.WriteByte(':')
			if err := nodeJSON(sb, n.Content[i+1]); err != nil {
				return err
			}
		}
		sb.WriteByte('}')
	case yaml.SequenceNode:
		sb.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				sb.WriteByte(',')
			}
			if err := nodeJSON(sb, e); err != nil {
				return err
			}
		}
		sb.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			s, _ := json.Marshal(n.Value)
			sb.Write(s)
		case "!!null", "!!bool", "!!int", "!!float":
			sb.WriteString(n.Value)
		default:
			return errors.New("unsupported scalar " + n.Tag)
		}
	default:
		return errors.New("unsupported YAML node")
	}
	return nil
}

func TestCases(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.file+"/"+c.Name, func(t *testing.T) {
			t.Parallel()
			f, err := match.Parse(c.raw, prefix)
			if c.Error != nil {
				checkError(t, c, err)
				return
			}
			if err != nil {
				t.Fatalf("%s: Parse(%s): %v", c.Spec, c.raw, err)
			}
			r := c.Resource.resource()
			if got := f.Match(r); got != *c.Match {
				t.Errorf("%s: Match = %v, want %v\n%s", c.Spec, got, *c.Match, f.Explain(r))
			}
			checkExplain(t, c, f.Explain(r))
			if c.Lint != nil {
				checkLint(t, *c.Lint, f.Lint())
			}
			if c.Needs != nil && f.Needs() != *c.Needs {
				t.Errorf("Needs = %+v, want %+v", f.Needs(), *c.Needs)
			}
		})
	}
}

func checkError(t *testing.T, c *testCase, err error) {
	t.Helper()
	var pe *posture.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%s: Parse(%s) = %v, want error %s at %s", c.Spec, c.raw, err, c.Error.Code, c.Error.Target)
	}
	if pe.Kind != posture.EINVALID || pe.Code != c.Error.Code || pe.Target != c.Error.Target {
		t.Errorf("%s: error %s %s at %q (%s), want %s at %q", c.Spec, pe.Kind, pe.Code, pe.Target, pe.Message, c.Error.Code, c.Error.Target)
	}
	if !strings.Contains(pe.Message, c.Error.Message) {
		t.Errorf("message %q does not contain %q", pe.Message, c.Error.Message)
	}
	if c.Error.Details > 0 && len(pe.Details) != c.Error.Details {
		t.Errorf("%d details, want %d: %v", len(pe.Details), c.Error.Details, pe.Details)
	}
	if len(pe.Details) > 0 && (pe.Details[0].Target != pe.Target || pe.Details[0].Message != pe.Message) {
		t.Errorf("the first detail is not the error itself: %v", pe.Details[0])
	}
}

func checkExplain(t *testing.T, c *testCase, e *match.Explanation) {
	t.Helper()
	if e.Matched != *c.Match {
		t.Errorf("Explain's result %v is not Match's %v", e.Matched, *c.Match)
	}
	got := e.String()
	switch c.Explain.Kind {
	case 0:
	case yaml.ScalarNode:
		if want := strings.TrimSuffix(c.Explain.Value, "\n"); got != want {
			t.Errorf("%s: Explain:\n%s\nwant:\n%s", c.Spec, got, want)
		}
	case yaml.SequenceNode:
		for _, s := range c.Explain.Content {
			if !strings.Contains(got, s.Value) {
				t.Errorf("%s: Explain does not contain %q:\n%s", c.Spec, s.Value, got)
			}
		}
	default:
		t.Fatalf("explain is text or a list of substrings")
	}
}

func checkLint(t *testing.T, want, got []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("Lint = %q, want %d warnings containing %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("warning %q does not contain %q", got[i], want[i])
		}
	}
}

// TestStable pins the canonical JSON and one-line form of the fixtures
// that give them, and checks for every valid fixture that its canonical
// JSON reads back to itself and matches as the original did (docs §17).
func TestStable(t *testing.T) {
	for _, c := range loadCases(t) {
		if c.Error != nil {
			continue
		}
		f, err := match.Parse(c.raw, prefix)
		if err != nil {
			continue // TestCases reports it
		}
		j, err := f.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		id := c.file + "/" + c.Name
		if c.Canonical != nil {
			if c.Canonical.JSON != "" && string(j) != c.Canonical.JSON {
				t.Errorf("%s: canonical JSON\n got %s\nwant %s", id, j, c.Canonical.JSON)
			}
			if c.Canonical.String != "" && f.String() != c.Canonical.String {
				t.Errorf("%s: String\n got %s\nwant %s", id, f, c.Canonical.String)
			}
		}
		g, err := match.Parse(j, prefix)
		if err != nil {
			t.Errorf("%s: canonical JSON %s does not parse: %v", id, j, err)
			continue
		}
		j2, _ := g.MarshalJSON()
		r := c.Resource.resource()
		if string(j2) != string(j) || g.String() != f.String() || g.Match(r) != f.Match(r) || !slices.Equal(g.Lint(), f.Lint()) {
			t.Errorf("%s: canonical JSON does not read back: %s / %s", id, j, j2)
		}
	}
}

// TestCaseCount keeps the corpus from silently losing files.
func TestCaseCount(t *testing.T) {
	byFile := map[string]int{}
	for _, c := range loadCases(t) {
		byFile[c.file]++
	}
	for _, f := range []string{"tags", "patterns", "regex", "logic", "missing-fields", "location", "fields",
		"limits", "errors", "explain", "lint", "canonical"} {
		if byFile[f] == 0 {
			t.Errorf("no cases in %s.yaml", f)
		}
	}
}
