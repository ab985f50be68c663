package kql

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestDict interns strings of every size class (empty, short, a page's
// worth, longer than a page) many times over and reads each back by code,
// through the string and byte forms and Lookup.
func TestDict(t *testing.T) {
	d := NewDict()
	var want []string
	for i := range 50_000 {
		var s string
		switch i % 1000 {
		case 0:
			s = strings.Repeat(fmt.Sprint(i), maxBytePage/len(fmt.Sprint(i))) // a page of its own
		case 1:
			s = strings.Repeat("x", minBytePage+i) // larger than the first page
		case 2:
			s = ""
		default:
			s = fmt.Sprintf("/subscriptions/%d/resourcegroups/rg%d", i, i%7)
		}
		want = append(want, s)
	}
	codes := map[string]uint32{}
	for i, s := range want {
		var c uint32
		if i%2 == 0 {
			c = d.Intern(s)
		} else {
			c = d.InternBytes([]byte(s))
		}
		if old, ok := codes[s]; ok && old != c {
			t.Fatalf("%.20q: code %d, then %d", s, old, c)
		}
		codes[s] = c
	}
	if d.Len() != len(codes) {
		t.Errorf("Len = %d, want %d distinct strings", d.Len(), len(codes))
	}
	total := 0
	for s := range codes {
		total += len(s)
	}
	if d.Size() < int64(total) || d.Size() > int64(2*total+1<<20) {
		t.Errorf("Size = %d for %d bytes of strings", d.Size(), total)
	}
	huge := strings.Repeat("z", longString+10) // its length is not in the location
	codes[huge] = d.Intern(huge)
	for s, c := range codes {
		if got := d.Get(c); got != s {
			t.Fatalf("Get(%d) = %.20q (%d bytes), want %.20q (%d bytes)", c, got, len(got), s, len(s))
		}
		if got, ok := d.Lookup(s); !ok || got != c {
			t.Fatalf("Lookup(%.20q) = %d, %v; want %d", s, got, ok, c)
		}
		if got := d.Intern(s); got != c {
			t.Fatalf("Intern(%.20q) again = %d, want %d", s, got, c)
		}
	}
	for _, s := range []string{"absent", "/subscriptions/1", strings.Repeat("x", minBytePage)} {
		if c, ok := d.Lookup(s); ok {
			t.Errorf("Lookup(%.20q) = %d, true; it was never interned", s, c)
		}
	}
}

// TestDictConcurrentReaders reads codes while a writer adds strings and
// grows the pages, the code table and the hash table (run with -race).
func TestDictConcurrentReaders(t *testing.T) {
	d := NewDict()
	d.Intern("")
	type published struct {
		code uint32
		s    string
	}
	ch := make(chan published, 1024)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for p := range ch {
				if got := d.Get(p.code); got != p.s {
					t.Errorf("Get(%d) = %q, want %q", p.code, got, p.s)
				}
				if c, ok := d.Lookup(p.s); !ok || c != p.code {
					t.Errorf("Lookup(%q) = %d, %v; want %d", p.s, c, ok, p.code)
				}
			}
		})
	}
	for i := range 20_000 {
		s := fmt.Sprintf("string %d %s", i, strings.Repeat("y", i%300))
		ch <- published{d.Intern(s), s}
	}
	close(ch)
	wg.Wait()
}

func BenchmarkDictIntern(b *testing.B) {
	ids := make([][]byte, 100_000)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "/subscriptions/%08d/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm%d", i%97, i)
	}
	d := NewDict()
	for _, id := range ids {
		d.InternBytes(id)
	}
	i := 0
	for b.Loop() {
		d.InternBytes(ids[i%len(ids)])
		i++
	}
}
