package kql

import (
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Database holds the current snapshot of every table and applies writes.
// Writers are serialised; readers call Snapshot and are never blocked.
type Database struct {
	mu    sync.Mutex
	dict  *Dict
	snap  atomic.Pointer[Snapshot]
	index map[string]*idIndex // table key → lower-case id → location
	enc   dynBuilder
}

// rowLoc locates a row: chunk position in the table and row in the chunk.
type rowLoc struct{ chunk, row int32 }

// Snapshot is an immutable view of all tables; queries run against one.
type Snapshot struct {
	tables map[string]*Table // key: lower-case name
	dict   *Dict
}

// NewDatabase returns an empty database. Tables are created on first write
// or with CreateTable.
func NewDatabase() *Database {
	d := &Database{dict: NewDict(), index: map[string]*idIndex{}}
	d.dict.Intern("") // code 0 is the empty string
	d.snap.Store(&Snapshot{tables: map[string]*Table{}, dict: d.dict})
	return d
}

// Stats is the size of a database, for metrics.
type Stats struct {
	Rows        map[string]int // by table name
	Strings     int            // distinct strings in the dictionary
	StringBytes int64          // bytes the dictionary holds (Dict.Size)
}

// Stats returns the rows of each table of the current snapshot and the
// size of the string dictionary. The dictionary only grows: strings of
// rows replaced or deleted stay in it until the database is rebuilt (a
// restart), so StringBytes against the rows tells how much of it is dead.
func (d *Database) Stats() Stats {
	s := d.Snapshot()
	st := Stats{Rows: make(map[string]int, len(s.tables)), Strings: d.dict.Len(), StringBytes: d.dict.Size()}
	for _, t := range s.tables {
		st.Rows[t.name] = t.rows
	}
	return st
}

// Snapshot returns the current immutable snapshot.
func (d *Database) Snapshot() *Snapshot { return d.snap.Load() }

// Table returns the table named name (case-insensitive), or nil.
func (s *Snapshot) Table(name string) *Table { return s.tables[strings.ToLower(name)] }

// Tables returns the names of all tables.
func (s *Snapshot) Tables() []string {
	out := make([]string, 0, len(s.tables))
	for _, t := range s.tables {
		out = append(out, t.name)
	}
	return out
}

// CreateTable makes sure a (possibly empty) table exists, so that queries
// naming it succeed with no rows.
func (d *Database) CreateTable(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.snap.Load()
	if s.tables[strings.ToLower(name)] != nil {
		return
	}
	d.publish(s, strings.ToLower(name), newTable(name, d.dict))
}

func (d *Database) publish(old *Snapshot, key string, t *Table) {
	tables := make(map[string]*Table, len(old.tables)+1)
	for k, v := range old.tables {
		tables[k] = v
	}
	tables[key] = t
	d.snap.Store(&Snapshot{tables: tables, dict: d.dict})
}

// Upsert inserts or replaces rows (JSON objects in the ARG row shape) keyed
// by their lower-case id, and publishes a new snapshot. Each row costs
// O(chunk) at most: only the chunks touched are copied. On a bad row
// nothing is applied and an InvalidArgument error is returned.
func (d *Database) Upsert(table string, rows ...[]byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := strings.ToLower(table)
	old := d.snap.Load()
	t := old.tables[key]
	if t == nil {
		t = newTable(table, d.dict)
	} else {
		t = t.clone()
	}
	idx := d.index[key]
	if idx == nil {
		idx = newIDIndex()
	}
	decoded := make([]decodedRow, 0, len(rows))
	for i, r := range rows {
		dr, err := t.decodeRow(r, &d.enc)
		if err != nil {
			e := err.(*Error)
			e.Message = sprintf("row %d: %s", i, e.Message)
			return e
		}
		decoded = append(decoded, dr)
	}
	// Chunks copied during this write may be modified in place.
	owned := map[int32]bool{}
	own := func(ci int32) *chunk {
		if !owned[ci] {
			t.chunks[ci] = t.chunks[ci].copyChunk(t.nStr)
			owned[ci] = true
		}
		c := t.chunks[ci]
		for len(c.codes) < t.nStr {
			c.codes = append(c.codes, make([]uint32, c.n, chunkRows))
		}
		return c
	}
	// Blobs share arenas to keep allocations few, sized to what this write
	// holds: an arena lives as long as any row in it, so a one-row write
	// must not pin a bulk load's arena.
	var arena []byte
	left := 0
	for _, dr := range decoded {
		left += len(dr.blob)
	}
	for _, dr := range decoded {
		loc, exists := idx.get(t, dr.id)
		if !exists {
			last := int32(len(t.chunks) - 1)
			if last < 0 || t.chunks[last].n >= chunkRows {
				t.chunks = append(t.chunks, &chunk{})
				last++
				owned[last] = true
				t.chunks[last].codes = make([][]uint32, t.nStr)
				for k := range t.chunks[last].codes {
					t.chunks[last].codes[k] = make([]uint32, 0, chunkRows)
				}
				t.chunks[last].blobs = make([][]byte, 0, chunkRows)
			}
			c := own(last)
			loc = rowLoc{chunk: last, row: int32(c.n)}
			c.n++
			for k := range c.codes {
				c.codes[k] = append(c.codes[k], 0)
			}
			c.blobs = append(c.blobs, nil)
			t.rows++
		}
		c := own(loc.chunk)
		for k := range c.codes {
			var code uint32
			if k < len(dr.codes) {
				code = dr.codes[k]
			}
			c.codes[k][loc.row] = code
		}
		if cap(arena)-len(arena) < len(dr.blob) {
			arena = make([]byte, 0, max(min(64<<10, left), len(dr.blob)))
		}
		left -= len(dr.blob)
		start := len(arena)
		arena = append(arena, dr.blob...)
		c.blobs[loc.row] = arena[start:len(arena):len(arena)]
		if !exists {
			idx.set(t, dr.id, loc) // after the id code is stored
		}
	}
	for ci := range owned {
		c := t.chunks[ci]
		c.compact()
		if len(rows) >= chunkRows && c.n == chunkRows {
			c.pack()
		}
	}
	d.index[key] = idx
	d.publish(old, key, t)
	return nil
}

// Delete removes rows by id (case-insensitive) and publishes a new
// snapshot. Unknown ids are ignored. Each delete costs O(chunk): the last
// row of the chunk moves into the hole.
func (d *Database) Delete(table string, ids ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delete(table, ids)
}

func (d *Database) delete(table string, ids []string) {
	key := strings.ToLower(table)
	old := d.snap.Load()
	if old.tables[key] == nil {
		return
	}
	t := old.tables[key].clone()
	idx := d.index[key]
	owned := map[int32]bool{}
	for _, id := range ids {
		id = strings.ToLower(id)
		loc, ok := idx.get(t, id)
		if !ok {
			continue
		}
		idx.del(t, id) // while the row still holds id
		if !owned[loc.chunk] {
			t.chunks[loc.chunk] = t.chunks[loc.chunk].copyChunk(t.nStr)
			owned[loc.chunk] = true
		}
		c := t.chunks[loc.chunk]
		lastRow := int32(c.n - 1)
		if loc.row != lastRow {
			for k := range c.codes {
				c.codes[k][loc.row] = c.codes[k][lastRow]
			}
			c.blobs[loc.row] = c.blobs[lastRow]
			movedID := strings.ToLower(d.dict.Get(c.codes[0][loc.row]))
			idx.set(t, movedID, loc)
		}
		for k := range c.codes {
			c.codes[k] = c.codes[k][:lastRow]
		}
		c.blobs[lastRow] = nil
		c.blobs = c.blobs[:lastRow]
		c.n--
		t.rows--
	}
	for ci := range owned {
		t.chunks[ci].compact()
	}
	d.publish(old, key, t)
}

// DeleteUnder removes the row whose id is prefix and every row whose id
// starts with prefix + "/" (case-insensitive: an ARM id and everything
// below it), and returns how many went. It reads every id of the table
// once, without a query or an allocation per row.
func (d *Database) DeleteUnder(table, prefix string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.snap.Load().Table(table)
	if t == nil {
		return 0
	}
	var ids []string
	var buf []byte // an id at a time: joined ids are put together here
	for _, c := range t.chunks {
		for i := 0; i < c.n; i++ {
			buf = t.dict.AppendString(buf[:0], c.stringCode(0, i))
			if id := unsafe.String(unsafe.SliceData(buf), len(buf)); isUnder(id, prefix) {
				ids = append(ids, strings.Clone(id))
			}
		}
	}
	d.delete(table, ids)
	return len(ids)
}

// isUnder reports whether id is prefix or below it, ignoring case.
func isUnder(id, prefix string) bool {
	n := len(prefix)
	return len(id) >= n && strings.EqualFold(id[:n], prefix) && (len(id) == n || id[n] == '/')
}

// Len returns the number of rows in table.
func (d *Database) Len(table string) int {
	if t := d.Snapshot().Table(table); t != nil {
		return t.rows
	}
	return 0
}
