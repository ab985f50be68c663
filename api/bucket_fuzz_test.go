package api

import "testing"

// FuzzParseBucket reads the rate-limit flags ("SIZE,REFILL" or "0"): a
// bucket that parses is positive and prints as text that parses to it.
func FuzzParseBucket(f *testing.F) {
	for _, s := range []string{"0", "250,25", " 200 , 0.5 ", "1,1e-300", "1,1e309", "-1,2", "3,NaN", "3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBucket(s)
		if err != nil {
			return
		}
		if b != (Bucket{}) && (b.Size <= 0 || !(b.Refill > 0)) {
			t.Fatalf("ParseBucket(%q) = %+v", s, b)
		}
		again, err := ParseBucket(b.String())
		if err != nil || again != b {
			t.Fatalf("ParseBucket(%q) = %+v, printed %q, read back %+v, %v", s, b, b.String(), again, err)
		}
	})
}
