package graph

import "testing"

// FuzzDecodeToken reads Resource Graph's $skipToken, which callers send
// back: any text decodes or is refused, never with a negative skip, and a
// token that decodes encodes to one that decodes the same.
func FuzzDecodeToken(f *testing.F) {
	f.Add(encodeToken(token{Key: "k", ID: "r1", Skip: 100}))
	f.Add("eyJzIjotMX0")
	f.Add("")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeToken(s)
		if err != nil {
			return
		}
		if tok.Skip < 0 {
			t.Fatalf("decodeToken(%q) skips %d", s, tok.Skip)
		}
		again, err := decodeToken(encodeToken(tok))
		if err != nil || again != tok {
			t.Fatalf("decodeToken(%q) = %+v; encoded and decoded: %+v, %v", s, tok, again, err)
		}
	})
}
