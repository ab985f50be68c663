package kql

import (
	"fmt"
	"slices"
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

// TestDictJoined: ARM ids, stored as their parts (splitAt), read back
// whole, found by Lookup, and given one code however they are interned:
// whole first, parts first, or as bytes.
func TestDictJoined(t *testing.T) {
	d := NewDict()
	d.Intern("")
	var ids []string
	const resources = 3000
	for r := range resources {
		res := fmt.Sprintf("/subscriptions/%08d/resourceGroups/rg%d/providers/Microsoft.Compute/virtualMachines/vm%d", r%7, r%13, r)
		ids = append(ids, res,
			res+"/providers/microsoft.security/assessments/4fb67663-9ab9-475d-b026-8c544cced439",
			res+"/providers/microsoft.policyinsights/policystates/"+fmt.Sprintf("%016x", r%5),
			res+"/extensions/ext/providers/x.y/z/"+strings.Repeat("q", r%50),
			"/providers/Microsoft.Authorization/policyDefinitions/"+fmt.Sprint(r%11), // split at 0: not split
			fmt.Sprintf("https://portal.example/r/%d?resource=%%2Fsubscriptions%%2F%d", r, r),
			"https://portal.example/recommendations/k"+fmt.Sprint(r%3)+"?resource="+res)
	}
	codes := map[string]uint32{}
	for i, s := range ids {
		var c uint32
		switch i % 3 {
		case 0:
			c = d.Intern(s)
		case 1:
			if at := splitAt(s); at > 0 { // the parts first
				d.Intern(s[at:])
				d.Intern(s[:at])
			}
			c = d.InternBytes([]byte(s))
		default:
			c = d.InternBytes([]byte(s))
		}
		if old, ok := codes[s]; ok && old != c {
			t.Fatalf("%q: code %d, then %d", s, old, c)
		}
		codes[s] = c
	}
	joinedN, bytes := 0, 0
	for s, c := range codes {
		if got := d.Get(c); got != s {
			t.Fatalf("Get(%d) = %q, want %q", c, got, s)
		}
		if got := string(d.AppendString([]byte("x"), c)); got != "x"+s {
			t.Fatalf("AppendString(x, %d) = %q, want %q", c, got, "x"+s)
		}
		if got, ok := d.Lookup(s); !ok || got != c {
			t.Fatalf("Lookup(%q) = %d, %v; want %d", s, got, ok, c)
		}
		if _, _, n := d.locate(c); n == joined {
			joinedN++
		}
		bytes += len(s)
	}
	// Every resource id and what lies under it is joined, and so is a
	// link that embeds a resource id; the policy definition ids
	// ("/providers/" at 0) and the links with an escaped id are not.
	if want := 5 * resources; joinedN != want {
		t.Errorf("%d joined strings, want %d", joinedN, want)
	}
	// A link's id part is the resource id's own code: the link adds no
	// bytes but its entry.
	for r := range 3 {
		link, res := ids[r*7+6], ids[r*7]
		p, off, n := d.locate(codes[link])
		if n != joined {
			t.Fatalf("%q is not joined", link)
		}
		if _, _, y := joinedParts(p[off:]); y != codes[res] {
			t.Errorf("%q: id part has code %d (%q), want %d, the code of %q", link, y, d.Get(y), codes[res], res)
		}
	}
	for _, s := range []string{ids[1] + "x", ids[1][:len(ids[1])-1], strings.ToUpper(ids[0])} {
		if c, ok := d.Lookup(s); ok {
			t.Errorf("Lookup(%q) = %d, true; never interned", s, c)
		}
	}
	// Joined, the parts they share are stored once: well under the same
	// strings stored whole (page slack included: pages double up to 1 MiB).
	whole := NewDict()
	minJoined = 1 << 30
	for s := range codes {
		whole.Intern(s)
	}
	minJoined = 40
	if d.Size() > whole.Size()*3/4 {
		t.Errorf("Size %d, %d with every string stored whole: the shared parts should be stored once", d.Size(), whole.Size())
	}
	t.Logf("%d strings, %d bytes: dictionary of %d bytes, %d stored whole", len(codes), bytes, d.Size(), whole.Size())
}

// FuzzDict: whatever the strings, each reads back as interned and has one
// code, whether it or its parts came first.
func FuzzDict(f *testing.F) {
	f.Add("/subscriptions/s/resourceGroups/rg", "/providers/Microsoft.Web/sites/app/providers/microsoft.security/assessments/k", true)
	f.Add("", "/providers/", false)
	f.Add("/providers//providers/", "/providers/x/providers/y/providers/z/providers/", true)
	f.Fuzz(func(t *testing.T, a, b string, wholeFirst bool) {
		d := NewDict()
		d.Intern("")
		strs := []string{a + b, a, b, a + b + a, b + a}
		if !wholeFirst {
			slices.Reverse(strs)
		}
		codes := map[string]uint32{}
		for i, s := range strs {
			c := d.Intern(s)
			if i%2 == 1 {
				c = d.InternBytes([]byte(s))
			}
			if old, ok := codes[s]; ok && old != c {
				t.Fatalf("%q: code %d, then %d", s, old, c)
			}
			codes[s] = c
		}
		for s, c := range codes {
			if got := d.Get(c); got != s {
				t.Fatalf("Get(%d) = %q, want %q", c, got, s)
			}
			if got, ok := d.Lookup(s); !ok || got != c {
				t.Fatalf("Lookup(%q) = %d, %v; want %d", s, got, ok, c)
			}
		}
	})
}
