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
