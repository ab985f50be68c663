package kql

import (
	"sync"
	"sync/atomic"
)

// Dict interns strings: each distinct string stored in a Database gets a
// small integer code. Equality predicates on interned values then compare
// integers, and repeated strings (types, subscription ids, status codes,
// assessment descriptions) are held once.
//
// It is append-only and safe for one writer and many readers: codes are
// stored in fixed-size pages that never move, and a reader only looks up
// codes it obtained from a snapshot published after the code was written.
type Dict struct {
	mu    sync.RWMutex
	codes map[string]uint32
	pages atomic.Pointer[[]*dictPage]
	n     atomic.Uint32
}

const dictPageBits = 12
const dictPageSize = 1 << dictPageBits

type dictPage [dictPageSize]string

// NewDict returns an empty dictionary.
func NewDict() *Dict {
	d := &Dict{codes: make(map[string]uint32)}
	empty := []*dictPage{}
	d.pages.Store(&empty)
	return d
}

// Intern returns the code of s, adding it if needed.
func (d *Dict) Intern(s string) uint32 {
	d.mu.RLock()
	c, ok := d.codes[s]
	d.mu.RUnlock()
	if ok {
		return c
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.codes[s]; ok {
		return c
	}
	c = d.n.Load()
	pages := *d.pages.Load()
	if int(c>>dictPageBits) >= len(pages) {
		grown := make([]*dictPage, len(pages)+1)
		copy(grown, pages)
		grown[len(pages)] = new(dictPage)
		d.pages.Store(&grown)
		pages = grown
	}
	// Clone so the dictionary does not pin a large JSON input buffer.
	s = cloneString(s)
	pages[c>>dictPageBits][c&(dictPageSize-1)] = s
	d.codes[s] = c
	d.n.Store(c + 1)
	return c
}

// Lookup returns the code of s without adding it.
func (d *Dict) Lookup(s string) (uint32, bool) {
	d.mu.RLock()
	c, ok := d.codes[s]
	d.mu.RUnlock()
	return c, ok
}

// Get returns the string of code c.
func (d *Dict) Get(c uint32) string {
	pages := *d.pages.Load()
	return pages[c>>dictPageBits][c&(dictPageSize-1)]
}

// Len returns the number of interned strings.
func (d *Dict) Len() int { return int(d.n.Load()) }

func cloneString(s string) string {
	b := make([]byte, len(s))
	copy(b, s)
	return string(b)
}

// InternBytes is Intern for a byte slice; it allocates only for new strings.
func (d *Dict) InternBytes(b []byte) uint32 {
	d.mu.RLock()
	c, ok := d.codes[string(b)]
	d.mu.RUnlock()
	if ok {
		return c
	}
	return d.Intern(string(b))
}
