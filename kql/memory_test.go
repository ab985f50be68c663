package kql

import (
	"fmt"
	"runtime"
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
