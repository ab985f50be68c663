package kql

import "strings"

// idIndex maps lower-case row ids to row locations for the writer. It keeps
// a 64-bit hash per row rather than the id itself (the id is already stored
// in the table), and verifies every hit against the stored id; an id whose
// hash collides with another row's goes to a small overflow map. This keeps
// the index at about 20 bytes a row instead of a copy of every id.
type idIndex struct {
	byHash   map[uint64]rowLoc
	overflow map[string]rowLoc
}

func newIDIndex() *idIndex {
	return &idIndex{byHash: map[uint64]rowLoc{}, overflow: map[string]rowLoc{}}
}

// hashID is a variable so that a test can force collisions.
var hashID = func(lowerID string) uint64 { return xxhash64([]byte(lowerID)) }

// matches reports whether the row at loc has the given (lower-case) id.
func (x *idIndex) matches(t *Table, loc rowLoc, id string) bool {
	if int(loc.chunk) >= len(t.chunks) {
		return false
	}
	c := t.chunks[loc.chunk]
	if int(loc.row) >= c.n {
		return false
	}
	return strings.EqualFold(t.dict.Get(c.stringCode(0, int(loc.row))), id)
}

func (x *idIndex) get(t *Table, id string) (rowLoc, bool) {
	if loc, ok := x.overflow[id]; ok {
		return loc, true
	}
	loc, ok := x.byHash[hashID(id)]
	if !ok || !x.matches(t, loc, id) {
		return rowLoc{}, false
	}
	return loc, true
}

// set records loc for id. For a new row, call it once the row's id is
// stored (matches reads it back on later lookups).
func (x *idIndex) set(t *Table, id string, loc rowLoc) {
	if _, ok := x.overflow[id]; ok {
		x.overflow[id] = loc
		return
	}
	h := hashID(id)
	if old, ok := x.byHash[h]; ok && old != loc && !x.matches(t, old, id) {
		x.overflow[id] = loc // another id has this hash
		return
	}
	x.byHash[h] = loc
}

// del forgets id; call it while the row still holds id.
func (x *idIndex) del(t *Table, id string) {
	if _, ok := x.overflow[id]; ok {
		delete(x.overflow, id)
		return
	}
	h := hashID(id)
	if old, ok := x.byHash[h]; ok && x.matches(t, old, id) {
		delete(x.byHash, h)
	}
}
