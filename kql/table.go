package kql

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Table storage. A Table is an immutable snapshot made of chunks of up to
// chunkRows rows. String columns are stored as dictionary codes, once per
// chunk when every row has the same (compact); dynamic columns of a row are
// stored together in one byte blob (each value in the dynamic encoding, in
// column order, nested containers many rows repeat held in the dictionary),
// packed end to end when a bulk write fills the chunk (pack). A write
// copies only the chunks it touches.

const chunkRows = 1024

// colKind says how a column is stored.
type colKind uint8

const (
	colString  colKind = iota // dictionary codes
	colDynamic                // value in the row blob
)

// colDef is one column of a table's schema.
type colDef struct {
	Name string
	Type Type // TypeString or TypeDynamic
	kind colKind
	ord  int // ordinal among columns of the same kind
}

// standard columns of ARG tables, in ARG's order. Dynamic ones come first in
// the row blob in the order listed in dynOrder, properties first because it
// is read most.
var standardColumns = []struct {
	name string
	typ  Type
}{
	{"id", TypeString}, {"name", TypeString}, {"type", TypeString}, {"tenantId", TypeString},
	{"kind", TypeString}, {"location", TypeString}, {"resourceGroup", TypeString},
	{"subscriptionId", TypeString}, {"managedBy", TypeString}, {"sku", TypeDynamic},
	{"plan", TypeDynamic}, {"properties", TypeDynamic}, {"tags", TypeDynamic},
	{"identity", TypeDynamic}, {"zones", TypeDynamic}, {"extendedLocation", TypeDynamic},
}

var dynOrder = map[string]int{"properties": 0, "tags": 1, "sku": 2, "plan": 3, "identity": 4, "zones": 5, "extendedLocation": 6}

// Table is an immutable snapshot of one table.
type Table struct {
	name   string
	cols   []colDef
	byName map[string]int
	nStr   int
	nDyn   int
	chunks []*chunk
	rows   int
	dict   *Dict
}

// chunk holds up to chunkRows rows.
type chunk struct {
	n     int
	codes [][]uint32 // [string ordinal][row]; nil or past len: konst's code for every row
	// konst holds, for a column whose rows all have one code (a table's
	// type, tenantId, kind, location, managedBy; often its subscription),
	// that code, so that the column costs nothing per row (see compact).
	// Past len: code 0, "".
	konst []uint32
	blobs [][]byte // [row] dynamic values in dynamic-ordinal order; nil when packed
	// packed holds the blobs of a chunk a bulk write filled, end to end:
	// row i's is packed[ends[i-1]:ends[i]]. Four bytes a row instead of a
	// slice's 24; a later write lays the chunk out as blobs again (see
	// pack, copyChunk).
	packed []byte
	ends   []uint32
	// paths caches, per dynamic path read by queries, the dictionary code
	// of each row's value (see pathCodes). It is filled lazily and dies with
	// the chunk, so a write (which copies the chunk) invalidates it.
	paths sync.Map // string → *[]uint32
	npath atomic.Int32
}

// Sentinels in a path-code column.
const (
	pathNotString = ^uint32(0)     // the value is not an interned string: walk the document
	pathNull      = ^uint32(0) - 1 // the value is null or missing
	maxPathCaches = 16             // per chunk; beyond this paths are walked every time
)

// pathCodes returns the cached code column of a path, computing it on first
// use with walk; nil when the cache is full.
func (c *chunk) pathCodes(key string, walk func(ch *chunk, i int) Dyn) []uint32 {
	if v, ok := c.paths.Load(key); ok {
		return *v.(*[]uint32)
	}
	if c.npath.Load() >= maxPathCaches {
		return nil
	}
	col := make([]uint32, c.n)
	for i := 0; i < c.n; i++ {
		d := walk(c, i)
		switch code, ok := d.strCode(); {
		case ok:
			col[i] = code
		case len(d.b) == 0 || d.b[0] == tagNull:
			col[i] = pathNull
		default:
			col[i] = pathNotString
		}
	}
	if v, loaded := c.paths.LoadOrStore(key, &col); loaded {
		return *v.(*[]uint32)
	}
	c.npath.Add(1)
	return col
}

// Name returns the table's name as first created.
func (t *Table) Name() string { return t.name }

// Len returns the number of rows.
func (t *Table) Len() int { return t.rows }

// Columns returns the column names and types.
func (t *Table) Columns() []Column {
	out := make([]Column, len(t.cols))
	for i, c := range t.cols {
		out[i] = Column{Name: c.Name, Type: c.Type}
	}
	return out
}

func newTable(name string, dict *Dict) *Table {
	t := &Table{name: name, byName: map[string]int{}, dict: dict}
	// Lay the dynamic ordinals out as dynOrder says.
	for _, sc := range standardColumns {
		c := colDef{Name: sc.name, Type: sc.typ}
		if sc.typ == TypeString {
			c.kind, c.ord = colString, t.nStr
			t.nStr++
		} else {
			c.kind, c.ord = colDynamic, dynOrder[sc.name]
			t.nDyn++
		}
		t.byName[sc.name] = len(t.cols)
		t.cols = append(t.cols, c)
	}
	return t
}

// clone copies the table header (schema and chunk list), sharing chunks.
func (t *Table) clone() *Table {
	c := *t
	c.cols = append([]colDef(nil), t.cols...)
	c.byName = make(map[string]int, len(t.byName))
	for k, v := range t.byName {
		c.byName[k] = v
	}
	c.chunks = append([]*chunk(nil), t.chunks...)
	return &c
}

// addColumn extends the schema with an extra column.
func (t *Table) addColumn(name string, typ Type) int {
	c := colDef{Name: name, Type: typ}
	if typ == TypeString {
		c.kind, c.ord = colString, t.nStr
		t.nStr++
	} else {
		c.kind, c.ord = colDynamic, t.nDyn
		t.nDyn++
	}
	t.byName[name] = len(t.cols)
	t.cols = append(t.cols, c)
	return len(t.cols) - 1
}

// stringCode returns the code of string column ord at row i.
func (c *chunk) stringCode(ord, i int) uint32 {
	if ord < len(c.codes) && c.codes[ord] != nil {
		return c.codes[ord][i]
	}
	if ord < len(c.konst) {
		return c.konst[ord]
	}
	return 0 // code 0 is always ""
}

// compact drops the code column of every string column whose rows all
// have one code, keeping the code in konst. A write calls it on each chunk
// it copied; copyChunk lays the columns out again for the next.
func (c *chunk) compact() {
	for k, col := range c.codes {
		if col == nil || len(col) == 0 {
			continue
		}
		v := col[0]
		same := true
		for _, x := range col[1:] {
			if x != v {
				same = false
				break
			}
		}
		if !same {
			continue
		}
		for len(c.konst) <= k {
			c.konst = append(c.konst, 0)
		}
		c.konst[k], c.codes[k] = v, nil
	}
}

// dynamic returns the dynamic column ord of row i.
func (c *chunk) dynamic(ord, i int, dict *Dict) Dyn {
	b := c.blob(i)
	pos := 0
	for k := 0; k < ord; k++ {
		if pos >= len(b) {
			return Dyn{}
		}
		pos = skipValue(b, pos)
	}
	if pos >= len(b) {
		return Dyn{}
	}
	return Dyn{b: b, dict: dict}.at(pos, skipValue(b, pos))
}

// blob returns the dynamic values of row i.
func (c *chunk) blob(i int) []byte {
	if c.blobs != nil {
		return c.blobs[i]
	}
	start := uint32(0)
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.packed[start:c.ends[i]:c.ends[i]]
}

// pack moves the blobs into one allocation. Writes of many rows call it
// on the full chunks they filled: packing costs a copy of the chunk, which
// a write of one row should not pay.
func (c *chunk) pack() {
	if c.blobs == nil {
		return
	}
	size := 0
	for _, b := range c.blobs {
		size += len(b)
	}
	packed, ends := make([]byte, 0, size), make([]uint32, c.n)
	for i, b := range c.blobs {
		packed = append(packed, b...)
		ends[i] = uint32(len(packed))
	}
	c.packed, c.ends, c.blobs = packed, ends, nil
}

// copyChunk returns a chunk that can be modified without affecting c.
func (c *chunk) copyChunk(nStr int) *chunk {
	out := &chunk{n: c.n, codes: make([][]uint32, nStr), blobs: make([][]byte, c.n, chunkRows)} // paths start empty
	for k := 0; k < nStr; k++ {
		col := make([]uint32, c.n, chunkRows)
		if k < len(c.codes) && c.codes[k] != nil {
			copy(col, c.codes[k])
		} else if k < len(c.konst) && c.konst[k] != 0 {
			for i := range col {
				col[i] = c.konst[k]
			}
		}
		out.codes[k] = col
	}
	for i := range out.blobs {
		out.blobs[i] = c.blob(i) // a packed chunk's bytes are shared, never changed
	}
	return out
}

// shareDepth is the depth from which decodeRow shares containers (see
// dynBuilder.share): inside a column's value (the row is 1, a column 2).
// A column's value itself is not shared: a policy state's properties are
// unique to it. (A variable for a test.)
var shareDepth = 3

// decodedRow is one JSON row split into its columns.
type decodedRow struct {
	id    string // lower-case id, the key
	codes []uint32
	blob  []byte
}

// decodeRow converts a JSON object into codes and a blob, adding extra
// columns to t's schema as they appear. It reuses b for encoding.
func (t *Table) decodeRow(data []byte, b *dynBuilder) (decodedRow, error) {
	b.buf = b.buf[:0]
	b.dict, b.intern, b.share = t.dict, true, shareDepth
	defer func() { b.share = 0 }()
	if err := decodeJSONValue(data, b); err != nil {
		return decodedRow{}, newError(CodeInvalidArgument, "row is not valid JSON: %v", err)
	}
	doc := Dyn{b: b.buf, dict: t.dict}
	if doc.kind() != dynObject {
		return decodedRow{}, newError(CodeInvalidArgument, "row is not a JSON object")
	}
	dyns := make([]Dyn, 0, 8)
	row := decodedRow{}
	var codes [32]uint32
	codeSlice := codes[:0]
	setCode := func(ord int, code uint32) {
		for len(codeSlice) <= ord {
			codeSlice = append(codeSlice, 0)
		}
		codeSlice[ord] = code
	}
	var err error
	doc.each(func(key string, v Dyn) bool {
		ci, ok := t.byName[key]
		if !ok {
			typ := TypeDynamic
			if v.kind() == dynString {
				typ = TypeString
			}
			ci = t.addColumn(key, typ)
		}
		c := t.cols[ci]
		if c.kind == colString {
			var code uint32
			switch v.kind() {
			case dynString:
				code, _ = v.strCode()
			case dynNull:
				code = 0
			default:
				code = t.dict.Intern(toStringValue(dynValue(v)))
			}
			if key == "type" {
				// ARG returns type in lower case; store it so.
				if s := t.dict.Get(code); s != strings.ToLower(s) {
					code = t.dict.Intern(strings.ToLower(s))
				}
			}
			if key == "id" {
				row.id = strings.ToLower(t.dict.Get(code))
			}
			setCode(c.ord, code)
		} else {
			for len(dyns) <= c.ord {
				dyns = append(dyns, Dyn{})
			}
			dyns[c.ord] = v
		}
		return err == nil
	})
	if row.id == "" {
		return decodedRow{}, newError(CodeInvalidArgument, "row has no id")
	}
	row.codes = append([]uint32(nil), codeSlice...)
	// Blob: dynamic values in ordinal order; trailing nulls are omitted.
	last := len(dyns) - 1
	for last >= 0 && len(dyns[last].b) == 0 {
		last--
	}
	size := 0
	for k := 0; k <= last; k++ {
		if len(dyns[k].b) == 0 {
			size++
		} else {
			size += len(dyns[k].b)
		}
	}
	blob := make([]byte, 0, size)
	for k := 0; k <= last; k++ {
		if len(dyns[k].b) == 0 {
			blob = append(blob, tagNull)
		} else {
			blob = append(blob, dyns[k].b...)
		}
	}
	row.blob = blob
	return row, err
}
