package match_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/match"
)

// Any input either parses or fails with an EINVALID InvalidResourceFilter
// *posture.Error whose targets start with the prefix; one that parses
// writes canonical JSON that reads back to the same canonical JSON, String,
// Lint and Needs.
func FuzzParse(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := match.Parse(raw, prefix)
		if err != nil {
			var pe *posture.Error
			if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code != "InvalidResourceFilter" {
				t.Fatalf("error %v is not an EINVALID InvalidResourceFilter *posture.Error", err)
			}
			for _, d := range append([]*posture.Error{pe}, pe.Details...) {
				if !strings.HasPrefix(d.Target, prefix) || d.Message == "" || d.Code != pe.Code {
					t.Fatalf("problem %q at %q", d.Message, d.Target)
				}
			}
			return
		}
		j, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		q, err := match.Parse(j, prefix)
		if err != nil {
			t.Fatalf("canonical %s does not parse: %v", j, err)
		}
		j2, _ := q.MarshalJSON()
		if string(j2) != string(j) || q.String() != p.String() || !slices.Equal(q.Lint(), p.Lint()) || q.Needs() != p.Needs() {
			t.Fatalf("canonical form does not read back:\n%s\n%s\n%s\n%s", j, j2, p, q)
		}
	})
}

// Match, Explain and the reference reading of the spec (ref_test.go) agree
// for any filter and resource.
func FuzzMatch(f *testing.F) {
	for _, c := range loadCases(f) {
		if c.Error != nil {
			continue
		}
		r := c.Resource
		k1, v1, k2, v2 := "env", "dev", "Env", "prod"
		for k, v := range r.Tags {
			k1, v1 = k, v
		}
		f.Add(c.raw, r.Name, r.Type, r.Location, r.ResourceGroup, k1, v1, k2, v2)
	}
	f.Fuzz(func(t *testing.T, raw []byte, name, typ, location, rg, k1, v1, k2, v2 string) {
		p, err := match.Parse(raw, prefix)
		if err != nil {
			return
		}
		r := &match.Resource{ID: "/subscriptions/s/resourceGroups/" + rg + "/providers/" + typ + "/" + name,
			Name: name, Type: typ, Location: location, ResourceGroup: rg, SubscriptionID: "s",
			Tags: map[string]string{k1: v1, k2: v2}}
		m := p.Match(r)
		e := p.Explain(r)
		if e.Matched != m {
			t.Fatalf("Match %v, Explain %v\n%s", m, e.Matched, e)
		}
		consistent(t, e)
		j, _ := p.MarshalJSON()
		if want := refMatch(j, r); m != want {
			t.Fatalf("Match %v, reference %v for %s\n%s", m, want, j, e)
		}
	})
}

// consistent checks that each node of an explanation follows from its
// children.
func consistent(t *testing.T, e *match.Explanation) {
	t.Helper()
	var all, some bool = true, false
	for _, c := range e.Children {
		consistent(t, c)
		all, some = all && c.Matched, some || c.Matched
	}
	switch e.Condition {
	case "allOf":
		if e.Matched != all {
			t.Fatalf("allOf %v with children %v", e.Matched, e)
		}
	case "anyOf":
		if e.Matched != some {
			t.Fatalf("anyOf %v with children %v", e.Matched, e)
		}
	case "not":
		if e.Matched == e.Children[0].Matched {
			t.Fatalf("not %v over %v", e.Matched, e)
		}
	}
}

// like agrees with its translation to a regexp, on any pattern and value,
// with tag values (no normalising) and locations (normalised, §13).
func FuzzLike(f *testing.F) {
	for _, s := range [][2]string{{"tmp-*", "tmp-1"}, {"*a*ab", "aab"}, {"ab*ba", "aba"}, {"k*", "\u212a1"},
		{"*S", "bo\u017f"}, {"West *", "West US 2"}, {"**", ""}, {"a\xffb*", "A\xffB"}, {"*.bak*.bak", "file.bak"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		for _, field := range []string{"tags['k']", "location"} {
			raw, _ := json.Marshal(map[string]string{"field": field, "like": pattern})
			p, err := match.Parse(raw, prefix)
			if err != nil {
				return // too long
			}
			r := &match.Resource{Location: value, Tags: map[string]string{"k": value}}
			j, _ := p.MarshalJSON()
			if got, want := p.Match(r), refMatch(j, r); got != want {
				t.Fatalf("%s like %q on %q: %v, reference %v", field, pattern, value, got, want)
			}
		}
	})
}
