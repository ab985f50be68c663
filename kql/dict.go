package kql

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Dict interns strings: each distinct string stored in a Database gets a
// small integer code. Equality predicates on interned values then compare
// integers, and repeated strings (types, subscription ids, status codes,
// assessment descriptions) are held once.
//
// Most strings of a large estate are not repeated, though: every row's id,
// a policy state's timestamp, an assessment's portal link. So a string costs
// its bytes and about 20 more, and nothing in the dictionary is a pointer
// the garbage collector has to trace: the bytes sit in append-only pages,
// a code's place in them in a table of integers, and the hash table from
// strings to codes is a slice of integers too. (A map[string]uint32 and a
// Go string per code cost about 80 bytes a string on top, and as many
// pointers as strings: at a million resources, most of the heap and most
// of the collector's work.) And the ids that are most of those strings
// are stored as two codes, their resource's id and a suffix many rows
// share (splitAt).
//
// It is append-only and safe for one writer and many readers: pages never
// move and bytes once written never change, and a reader only looks up
// codes it obtained from a snapshot published after the code was written.
type Dict struct {
	// Read without the lock.
	locs  atomic.Pointer[[]*locPage] // code → location (see locate)
	pages atomic.Pointer[[][]byte]   // byte pages, each at its full length
	n     atomic.Uint32              // codes given
	size  atomic.Int64               // bytes held: pages, code table, hash table

	mu    sync.RWMutex // guards what follows; Lookup reads slots under RLock
	slots []uint64     // hash table: top 32 bits of the hash <<32 | code+1; 0 is empty
	shift uint         // 64 - log2(len(slots))
	seed  maphash.Seed
	cur   int // the page strings are added to
	fill  int // bytes of pages[cur] used
}

const (
	dictPageBits = 12
	dictPageSize = 1 << dictPageBits
	// Byte pages start small (a test makes many databases) and double up
	// to maxBytePage; a string longer than a quarter of that gets a page
	// of its own. A string's offset in a page fits locOffBits.
	minBytePage = 4 << 10
	maxBytePage = 1 << 20
)

type locPage [dictPageSize]uint64

// NewDict returns an empty dictionary.
func NewDict() *Dict {
	d := &Dict{seed: maphash.MakeSeed(), slots: make([]uint64, 64), shift: 64 - 6}
	locs := []*locPage{}
	d.locs.Store(&locs)
	pages := [][]byte{make([]byte, minBytePage)}
	d.pages.Store(&pages)
	d.size.Store(minBytePage + 64*8)
	return d
}

// Intern returns the code of s, adding it if needed.
func (d *Dict) Intern(s string) uint32 { return d.intern(s) }

// InternBytes is Intern for a byte slice; it allocates nothing.
func (d *Dict) InternBytes(b []byte) uint32 {
	if len(b) == 0 {
		return d.intern("")
	}
	// The string does not outlive the call: store copies what it keeps.
	return d.intern(unsafe.String(&b[0], len(b)))
}

// Lookup returns the code of s without adding it.
func (d *Dict) Lookup(s string) (uint32, bool) {
	d.mu.RLock()
	c, ok := d.find(s, maphash.String(d.seed, s))
	d.mu.RUnlock()
	return c, ok
}

// Get returns the string of code c. A plain string shares the
// dictionary's bytes; a joined one (see splitAt) is put together, one
// allocation.
func (d *Dict) Get(c uint32) string {
	p, off, n := d.locate(c)
	if n != joined {
		return unsafe.String(&p[off], n) // p[off] exists: see store
	}
	b := d.AppendString(make([]byte, 0, d.length(c)), c)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// bytes returns the bytes of code c, in place. Shared containers (Dyn's
// tagShared) are read this way; splitAt never splits them.
func (d *Dict) bytes(c uint32) []byte {
	p, off, n := d.locate(c)
	if n == joined {
		return d.AppendString(nil, c)
	}
	return p[off : off+n : off+n]
}

// AppendString appends the string of code c to b: Get without an
// allocation when b has room.
func (d *Dict) AppendString(b []byte, c uint32) []byte {
	p, off, n := d.locate(c)
	if n != joined {
		return append(b, p[off:off+n]...)
	}
	_, x, y := joinedParts(p[off:])
	return d.AppendString(d.AppendString(b, x), y)
}

// A location packs a string's page, its offset in the page and its
// length. Strings of longString bytes or more have a page of their own,
// which starts with their length (a uvarint). A joined string's length
// field is joined; at its offset are its length and the codes of its two
// parts (uvarints).
const (
	locLenBits   = 24
	locOffBits   = 20 // maxBytePage
	locPageShift = locLenBits + locOffBits
	locOffShift  = locLenBits
	longString   = 1<<locLenBits - 1
	joined       = longString - 1
)

// locate returns the page of code c, the offset of its bytes and their
// length, or joined.
func (d *Dict) locate(c uint32) (p []byte, off, n int) {
	loc := (*d.locs.Load())[c>>dictPageBits][c&(dictPageSize-1)]
	p = (*d.pages.Load())[loc>>locPageShift]
	off, n = int(loc>>locOffShift)&(1<<locOffBits-1), int(loc&(1<<locLenBits-1))
	if n == longString {
		l, k := binary.Uvarint(p)
		off, n = k, int(l)
	}
	return p, off, n
}

func joinedParts(b []byte) (length int, x, y uint32) {
	l, i := binary.Uvarint(b)
	u, j := binary.Uvarint(b[i:])
	v, _ := binary.Uvarint(b[i+j:])
	return int(l), uint32(u), uint32(v)
}

// length returns the length of the string of code c.
func (d *Dict) length(c uint32) int {
	p, off, n := d.locate(c)
	if n == joined {
		n, _, _ = joinedParts(p[off:])
	}
	return n
}

// equal reports whether code c is the string s, without putting a joined
// string together.
func (d *Dict) equal(c uint32, s string) bool {
	p, off, n := d.locate(c)
	if n != joined {
		return n == len(s) && string(p[off:off+n]) == s
	}
	l, x, y := joinedParts(p[off:])
	if l != len(s) {
		return false
	}
	k := d.length(x)
	return d.equal(x, s[:k]) && d.equal(y, s[k:])
}

// splitAt returns where a string is stored as two: before its last
// "/providers/", when it is long enough for that to pay. Most strings of
// a large estate are ARM ids, unique to their row, and most of those are
// a resource's id and a suffix every resource shares: a policy state's id
// is its resource's followed by /providers/microsoft.policyinsights/
// policystates/{hash}, an assessment's by /providers/
// microsoft.security/assessments/{key}. Stored as two codes, such an id
// costs about 10 bytes instead of its 200, and the resource's part is
// split again the same way. A string that embeds a subscription's
// resource id after some text (an assessment's portal link, ending in
// ?resource={id}) is split before the id, whose code it then shares with
// the rows that name the resource. The split depends on the string alone,
// so a string has one code however it is interned.
func splitAt(s string) int {
	if len(s) < minJoined || s[0] < 0x20 {
		return -1 // short, or binary: a shared container's encoding (bytes)
	}
	if i := strings.Index(s, "/subscriptions/"); i > 0 {
		return i
	}
	return strings.LastIndex(s, "/providers/") // 0 and -1: not split
}

// minJoined is the shortest string splitAt splits: below it the two
// codes and the entry save too little. (A variable for a test.)
var minJoined = 40

// Len returns the number of interned strings.
func (d *Dict) Len() int { return int(d.n.Load()) }

// Size returns the bytes the dictionary holds: its pages (strings and the
// room left in the page being filled), the code table and the hash table.
func (d *Dict) Size() int64 { return d.size.Load() }

func (d *Dict) intern(s string) uint32 {
	h := maphash.String(d.seed, s)
	d.mu.RLock()
	c, ok := d.find(s, h)
	d.mu.RUnlock()
	if ok {
		return c
	}
	x, y := uint32(0), uint32(0)
	at := splitAt(s)
	if at > 0 {
		// The parts first, each under the lock of its own Intern.
		x, y = d.intern(s[:at]), d.intern(s[at:])
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.find(s, h); ok {
		return c
	}
	c = d.n.Load()
	if at > 0 {
		d.setLoc(c, d.storeJoined(len(s), x, y))
	} else {
		d.setLoc(c, d.store(s))
	}
	d.insert(h, c)
	d.n.Store(c + 1)
	return c
}

// find returns the code of s, whose hash is h. The caller holds mu.
func (d *Dict) find(s string, h uint64) (uint32, bool) {
	tag := h >> 32
	mask := uint64(len(d.slots) - 1)
	for i := h >> d.shift; ; i = (i + 1) & mask {
		v := d.slots[i]
		if v == 0 {
			return 0, false
		}
		if v>>32 == tag {
			if c := uint32(v) - 1; d.equal(c, s) {
				return c, true
			}
		}
	}
}

// insert adds code c of hash h to the table, growing it past 3/4 full.
func (d *Dict) insert(h uint64, c uint32) {
	if 4*(int(d.n.Load())+1) > 3*len(d.slots) {
		old := d.slots
		d.slots = make([]uint64, 2*len(old))
		d.size.Add(8 * int64(len(old)))
		d.shift--
		for _, v := range old {
			if v != 0 {
				d.place(v)
			}
		}
	}
	d.place(h>>32<<32 | uint64(c+1))
}

// place puts slot value v at its first free position. The table is
// indexed by the top bits of the hash, the bits the value keeps, so that
// growing needs no hash recomputed.
func (d *Dict) place(v uint64) {
	mask := uint64(len(d.slots) - 1)
	i := v >> 32 << 32 >> d.shift
	for d.slots[i] != 0 {
		i = (i + 1) & mask
	}
	d.slots[i] = v
}

// store writes s into the pages and returns its location.
func (d *Dict) store(s string) uint64 {
	pages := *d.pages.Load()
	if len(s) > maxBytePage/4 { // a page of its own; the current one goes on
		p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(s)), uint64(len(s)))
		p = append(p, s...)
		d.addPage(pages, p)
		if len(s) < joined { // the two largest lengths are markers
			return uint64(len(pages))<<locPageShift | uint64(len(p)-len(s))<<locOffShift | uint64(len(s))
		}
		return uint64(len(pages))<<locPageShift | longString
	}
	return d.put(s, len(s))
}

// storeJoined writes the entry of a string of length l made of the
// strings of codes x and y, and returns its location.
func (d *Dict) storeJoined(l int, x, y uint32) uint64 {
	var b [3 * binary.MaxVarintLen64]byte
	e := binary.AppendUvarint(binary.AppendUvarint(binary.AppendUvarint(b[:0], uint64(l)), uint64(x)), uint64(y))
	return d.put(unsafe.String(&e[0], len(e)), joined)
}

// put copies b into the page being filled, starting another when it is
// full, and returns the location of b with n in its length field.
func (d *Dict) put(b string, n int) uint64 {
	pages := *d.pages.Load()
	// One byte more than b, so that &p[off] exists for "".
	if d.fill+len(b)+1 > len(pages[d.cur]) {
		size := max(min(2*len(pages[d.cur]), maxBytePage), len(b)+1)
		d.cur, d.fill = len(pages), 0
		pages = d.addPage(pages, make([]byte, size))
	}
	off := d.fill
	d.fill += copy(pages[d.cur][off:], b)
	return uint64(d.cur)<<locPageShift | uint64(off)<<locOffShift | uint64(n)
}

// addPage publishes pages with p added. Appending in place is safe for
// readers: they hold a shorter slice and never read past it.
func (d *Dict) addPage(pages [][]byte, p []byte) [][]byte {
	pages = append(pages, p)
	d.pages.Store(&pages)
	d.size.Add(int64(len(p)))
	return pages
}

// setLoc records the location of code c, adding a page of codes as needed.
func (d *Dict) setLoc(c uint32, loc uint64) {
	locs := *d.locs.Load()
	if int(c>>dictPageBits) >= len(locs) {
		locs = append(locs, new(locPage))
		d.locs.Store(&locs)
		d.size.Add(int64(unsafe.Sizeof(locPage{})))
	}
	locs[c>>dictPageBits][c&(dictPageSize-1)] = loc
}
