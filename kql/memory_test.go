package kql

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestSmallWritesHoldLittle: rows written one at a time, as changes arrive
// after the load, hold about their own size. (Each write's blobs once went
// to a fresh 64 KiB arena that any row still in it kept alive: a table
// updated row by row grew to 64 KiB a row.)
func TestSmallWritesHoldLittle(t *testing.T) {
	const rows = 2000
	row := func(i, gen int) []byte {
		return fmt.Appendf(nil, `{"id":"/subscriptions/s/providers/x/rows/%d","properties":{"gen":%d,"text":"a row of about two hundred bytes once encoded, which is what a policy state costs here"}}`, i, gen)
	}
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	db := NewDatabase()
	before := live()
	for gen := range 3 { // each row replaced twice
		for i := range rows {
			if err := db.Upsert("T", row(i, gen)); err != nil {
				t.Fatal(err)
			}
		}
	}
	held := int64(live()) - int64(before)
	if got := db.Snapshot().Table("T").Len(); got != rows {
		t.Fatalf("%d rows, want %d", got, rows)
	}
	// About 200 bytes of blob, 4-byte codes, the id in the dictionary and
	// the index: well under 2 KiB a row; 64 KiB arenas would hold 128 MiB.
	if perRow := held / rows; perRow > 2048 {
		t.Errorf("%d rows written one at a time hold %d bytes, %d a row", rows, held, perRow)
	}
	runtime.KeepAlive(db)
}

// TestConstantColumns: a string column whose rows all hold one value keeps
// no code per row, and reads the same through loads, updates that make it
// vary and updates that make it constant again, and deletes; an older
// snapshot keeps what it read.
func TestConstantColumns(t *testing.T) {
	db := NewDatabase()
	row := func(i int, loc string) []byte {
		return fmt.Appendf(nil, `{"id":"/s/r%d","name":"r%d","type":"x/y","location":%q,"properties":{}}`, i, i, loc)
	}
	var rows [][]byte
	for i := range 2500 { // two full chunks and part of a third
		rows = append(rows, row(i, "westeurope"))
	}
	if err := db.Upsert("T", rows...); err != nil {
		t.Fatal(err)
	}
	tb := db.Snapshot().Table("T")
	locOrd, typeOrd := tb.cols[tb.byName["location"]].ord, tb.cols[tb.byName["type"]].ord
	for ci, c := range tb.chunks {
		if c.codes[locOrd] != nil || c.codes[typeOrd] != nil {
			t.Errorf("chunk %d keeps a code per row for a constant column", ci)
		}
		if c.codes[tb.cols[tb.byName["name"]].ord] == nil {
			t.Errorf("chunk %d lost its name column", ci)
		}
	}
	count := func(snap *Snapshot, where string) int64 {
		return run(t, snap, `T | where `+where+` | count`, RunOptions{}).Value(0, 0).Int()
	}
	before := db.Snapshot()
	if n := count(before, `location == "westeurope" and type == "x/y"`); n != 2500 {
		t.Fatalf("%d rows in westeurope, want 2500", n)
	}
	// One row of the first chunk moves: the column varies there only.
	if err := db.Upsert("T", row(5, "northeurope")); err != nil {
		t.Fatal(err)
	}
	mid := db.Snapshot()
	if n, m := count(mid, `location == "westeurope"`), count(mid, `location == "northeurope" and name == "r5"`); n != 2499 || m != 1 {
		t.Fatalf("after one update: %d in westeurope, %d r5 in northeurope", n, m)
	}
	if c := mid.Table("T").chunks[0]; c.codes[locOrd] == nil {
		t.Error("a varying column was dropped")
	}
	// Back again, and a row deleted: constant once more.
	if err := db.Upsert("T", row(5, "westeurope")); err != nil {
		t.Fatal(err)
	}
	db.Delete("T", "/s/r7")
	after := db.Snapshot()
	if n := count(after, `location == "westeurope" and type == "x/y"`); n != 2499 {
		t.Fatalf("after delete: %d rows in westeurope, want 2499", n)
	}
	if c := after.Table("T").chunks[0]; c.codes[locOrd] != nil {
		t.Error("a column constant again keeps its codes")
	}
	if n := count(before, `location == "westeurope"`); n != 2500 {
		t.Fatalf("the first snapshot changed: %d", n)
	}
	if n := count(mid, `location == "northeurope"`); n != 1 {
		t.Fatalf("the second snapshot changed: %d", n)
	}
}

// TestSharedContainers: nested objects and arrays that rows repeat are
// stored once, and every query reads them as if they were stored in each
// row: the same results as a database that shares nothing.
func TestSharedContainers(t *testing.T) {
	const rows = 3000
	row := func(i int) []byte {
		// meta repeats every 7 rows (as a recommendation's metadata over its
		// assessments), status every 3, details is unique to the row.
		return fmt.Appendf(nil, `{"id":"/s/r%d","name":"r%d","properties":{`+
			`"meta":{"severity":"%s","categories":["Compute","Data",%d],"preview":%v,"nested":{"a":[1,2,{"b":"c%d"}],"n":null}},`+
			`"status":{"code":"%s","first":"2026-11-2%dT00:00:00Z"},`+
			`"details":{"id":"/s/r%d","tags":["x%d","y"]},"empty":{},"short":[1]}}`,
			i, i, []string{"High", "Medium", "Low"}[i%7%3], i%7, i%2 == 0, i%7, []string{"Healthy", "Unhealthy"}[i%3%2], i%3, i, i)
	}
	load := func(depth int) *Database {
		old := shareDepth
		shareDepth = depth
		defer func() { shareDepth = old }()
		db := NewDatabase()
		var rs [][]byte
		for i := range rows {
			rs = append(rs, row(i))
		}
		if err := db.Upsert("T", rs...); err != nil {
			t.Fatal(err)
		}
		return db
	}
	shared, plain := load(3), load(0)
	queries := []string{
		`T | order by name asc | take 20`,
		`T | project name, properties.meta, properties.status, properties.details | order by name asc`,
		`T | summarize n = count() by sev = tostring(properties.meta.severity), code = tostring(properties.status.code) | order by sev asc, code asc`,
		`T | where properties.meta.nested.a[2].b == "c3" | count`,
		`T | extend k = bag_keys(properties.meta) | project name, k, array_length(properties.meta.categories) | order by name asc | take 10`,
		`T | mv-expand c = properties.meta.categories | summarize count() by tostring(c) | order by tostring(c) asc`,
		`T | summarize by m = tostring(properties.meta) | order by m asc`,
		`T | where properties.status.first == "2026-11-21T00:00:00Z" and properties.meta.preview == true | count`,
		`T | project d = pack("meta", properties.meta, "s", properties.status) | project d.meta.severity, d.s.code | take 5`,
	}
	for _, q := range queries {
		var a, b bytes.Buffer
		if err := run(t, shared.Snapshot(), q, RunOptions{}).WriteObjectArray(&a, 0, -1); err != nil {
			t.Fatal(err)
		}
		if err := run(t, plain.Snapshot(), q, RunOptions{}).WriteObjectArray(&b, 0, -1); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s\nshared: %.600s\nplain:  %.600s", q, a.String(), b.String())
		}
		if a.String() == "[]" || strings.Contains(a.String(), `"Count":0}`) {
			t.Errorf("%s: nothing to compare: %s", q, a.String())
		}
	}
	// The rows hold codes where they repeated meta and status.
	blobBytes := func(db *Database) (n int) {
		for _, c := range db.Snapshot().Table("T").chunks {
			for i := range c.n {
				n += len(c.blob(i))
			}
		}
		return n
	}
	if s, p := blobBytes(shared), blobBytes(plain); s > p*2/3 {
		t.Errorf("rows hold %d bytes shared, %d plain: the repeated containers should be stored once", s, p)
	}
}

// TestPackedChunks: a write of many rows packs the blobs of the chunks it
// filled into one allocation each; a later small write lays a chunk out
// again, and every snapshot reads its own rows throughout.
func TestPackedChunks(t *testing.T) {
	db := NewDatabase()
	row := func(i int, v string) []byte {
		return fmt.Appendf(nil, `{"id":"/s/r%d","name":"r%d","properties":{"v":%q,"n":%d}}`, i, i, v, i)
	}
	var rows [][]byte
	for i := range 2500 {
		rows = append(rows, row(i, "a"))
	}
	if err := db.Upsert("T", rows...); err != nil {
		t.Fatal(err)
	}
	loaded := db.Snapshot()
	chunks := loaded.Table("T").chunks
	if chunks[0].blobs != nil || chunks[1].blobs != nil || chunks[2].blobs == nil {
		t.Fatalf("packed: %v %v %v; want the two full chunks packed, the last not", chunks[0].blobs == nil, chunks[1].blobs == nil, chunks[2].blobs == nil)
	}
	sum := func(snap *Snapshot, where string) int64 {
		return run(t, snap, `T | where `+where+` | summarize sum(toint(properties.n))`, RunOptions{}).Value(0, 0).Int()
	}
	all := int64(2499 * 2500 / 2)
	if got := sum(loaded, `properties.v == "a"`); got != all {
		t.Fatalf("sum over packed rows %d, want %d", got, all)
	}
	// One row of a packed chunk changes, another is deleted.
	if err := db.Upsert("T", row(10, "b")); err != nil {
		t.Fatal(err)
	}
	db.Delete("T", "/s/r1500")
	after := db.Snapshot()
	if c := after.Table("T").chunks[0]; c.blobs == nil {
		t.Error("a one-row write packed its chunk")
	}
	if got, want := sum(after, `properties.v == "a"`), all-10-1500; got != want {
		t.Errorf("after the writes: %d, want %d", got, want)
	}
	if got := sum(after, `properties.v == "b"`); got != 10 {
		t.Errorf("the changed row: %d, want 10", got)
	}
	if got := sum(loaded, `properties.v == "a"`); got != all {
		t.Errorf("the loaded snapshot changed: %d", got)
	}
}
