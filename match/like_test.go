package match_test

import (
	"encoding/json"
	"testing"

	"github.com/posture/posture/match"
)

// TestLikeSmallScope compares like with the reference (a regexp
// translation) for every pattern over {a, B, *} up to five characters and
// every value over {A, a, b} up to four: the bugs a glob matcher has
// (overlapping prefix and suffix, runs found in the wrong place, repeated
// stars) all show up on strings this short.
func TestLikeSmallScope(t *testing.T) {
	patterns := words("aB*", 5)
	values := words("Aab", 4)
	for _, p := range patterns {
		raw, _ := json.Marshal(map[string]string{"field": "name", "like": p})
		f, err := match.Parse(raw, prefix)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := f.MarshalJSON()
		for _, v := range values {
			r := &match.Resource{Name: v}
			if got, want := f.Match(r), refMatch(j, r); got != want {
				t.Errorf("like %q on %q: %v, want %v", p, v, got, want)
			}
		}
	}
}

// words lists every string over alphabet up to n characters long.
func words(alphabet string, n int) []string {
	out := []string{""}
	last := []string{""}
	for range n {
		var next []string
		for _, w := range last {
			for _, c := range alphabet {
				next = append(next, w+string(c))
			}
		}
		out = append(out, next...)
		last = next
	}
	return out
}
