package kql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *Query {
	t.Helper()
	q, err := Parse(text, ParseOptions{Superset: true})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func run(t *testing.T, snap *Snapshot, text string, opts RunOptions) *Result {
	t.Helper()
	res, err := mustParse(t, text).Run(context.Background(), snap, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func names(res *Result, col int) []string {
	var out []string
	for i := 0; i < res.Len(); i++ {
		out = append(out, res.Value(i, col).String())
	}
	return out
}

func TestUpsertDeleteSnapshots(t *testing.T) {
	db := NewDatabase()
	var rows [][]byte
	for i := 0; i < 3000; i++ { // three chunks
		rows = append(rows, []byte(fmt.Sprintf(`{"id":"/S/r%d","name":"r%d","properties":{"status":{"code":"Healthy"}}}`, i, i)))
	}
	if err := db.Upsert("Resources", rows...); err != nil {
		t.Fatal(err)
	}
	q := `Resources | where properties.status.code == "Unhealthy" | project name`
	before := db.Snapshot()
	if n := run(t, before, q, RunOptions{}).Len(); n != 0 {
		t.Fatalf("%d unhealthy", n)
	}
	// Replace one row (ids are case-insensitive keys) and delete another.
	if err := db.Upsert("resources", []byte(`{"id":"/s/R1500","name":"r1500","properties":{"status":{"code":"Unhealthy"}}}`)); err != nil {
		t.Fatal(err)
	}
	db.Delete("Resources", "/S/R7")
	after := db.Snapshot()
	if got := names(run(t, after, q, RunOptions{}), 0); len(got) != 1 || got[0] != "r1500" {
		t.Fatalf("after upsert: %v", got)
	}
	if n := run(t, after, `Resources | count`, RunOptions{}).Value(0, 0).Int(); n != 2999 {
		t.Fatalf("count after delete %d", n)
	}
	if n := run(t, after, `Resources | where name == "r7" | count`, RunOptions{}).Value(0, 0).Int(); n != 0 {
		t.Fatalf("deleted row still visible")
	}
	// The old snapshot is unchanged, including its cached path codes.
	if n := run(t, before, q, RunOptions{}).Len(); n != 0 {
		t.Fatalf("old snapshot changed: %d", n)
	}
	if n := run(t, before, `Resources | count`, RunOptions{}).Value(0, 0).Int(); n != 3000 {
		t.Fatalf("old snapshot count %d", n)
	}
	// Moved rows stay addressable: update the row that filled the hole.
	if err := db.Upsert("Resources", []byte(`{"id":"/S/r1023","name":"moved","properties":{}}`)); err != nil {
		t.Fatal(err)
	}
	if n := run(t, db.Snapshot(), `Resources | where name == "moved" or name == "r1023" | count`, RunOptions{}).Value(0, 0).Int(); n != 1 {
		t.Fatalf("moved row duplicated or lost: %d", n)
	}
}

func TestUpsertRejectsBadRows(t *testing.T) {
	db := NewDatabase()
	for _, bad := range []string{`{"name":"no id"}`, `[1]`, `{"id":"x",`, ``} {
		if err := db.Upsert("Resources", []byte(bad)); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if db.Len("Resources") != 0 {
		t.Fatal("a bad batch was partly applied")
	}
}

func TestRowFilter(t *testing.T) {
	db := NewDatabase()
	_ = db.Upsert("Resources",
		[]byte(`{"id":"/subscriptions/S1/resourceGroups/RG1/providers/a/b/r1","name":"r1","subscriptionId":"S1"}`),
		[]byte(`{"id":"/subscriptions/s2/resourceGroups/rg1/providers/a/b/r2","name":"r2","subscriptionId":"s2"}`),
		[]byte(`{"id":"/subscriptions/s2/resourceGroups/rg10/providers/a/b/r3","name":"r3","subscriptionId":"s2"}`),
		[]byte(`{"id":"/subscriptions/s3/resourceGroups/rg/providers/a/b/r4","name":"r4","subscriptionId":"s3"}`),
	)
	snap := db.Snapshot()
	cases := []struct {
		filter *RowFilter
		want   string
	}{
		{nil, "r1,r2,r3,r4"},
		{&RowFilter{}, ""},
		{SubscriptionFilter("s1"), "r1"}, // case-insensitive
		// Segment-aware: rg1 does not admit rg10.
		{&RowFilter{Scopes: []string{"/SUBSCRIPTIONS/s2/resourcegroups/RG1"}}, "r2"},
		{&RowFilter{Subscriptions: []string{"s3"}, Scopes: []string{"/subscriptions/s2/resourceGroups/rg10/"}}, "r3,r4"},
		{&RowFilter{Allow: func(id string) bool { return strings.HasSuffix(id, "/r2") }}, "r2"},
	}
	for i, c := range cases {
		res := run(t, snap, `Resources | order by name asc | project name`, RunOptions{Filter: c.filter})
		if got := strings.Join(names(res, 0), ","); got != c.want {
			t.Errorf("case %d: got %q want %q", i, got, c.want)
		}
	}
	// The filter applies to every table a query reads, joins included.
	res := run(t, snap, `Resources | project name, subscriptionId | join kind=inner (Resources | project subscriptionId) on subscriptionId | count`,
		RunOptions{Filter: SubscriptionFilter("s2")})
	if n := res.Value(0, 0).Int(); n != 4 {
		t.Fatalf("join under filter: %d rows, want 4", n)
	}
}

func TestResultWriters(t *testing.T) {
	db := NewDatabase()
	_ = db.Upsert("Resources", []byte(`{"id":"/r/1","name":"a","properties":{"n":1}}`), []byte(`{"id":"/r/2","name":"b","properties":{"n":2.5}}`))
	res := run(t, db.Snapshot(), `Resources | order by name asc | project name, n = properties.n, c = 1, t = datetime(2024-01-02), ok = true, r = 2.0`, RunOptions{})
	var buf bytes.Buffer
	if err := res.WriteObjectArray(&buf, 1, 5); err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &objs); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if len(objs) != 1 || objs[0]["name"] != "b" || objs[0]["n"] != 2.5 || objs[0]["t"] != "2024-01-02T00:00:00Z" || objs[0]["ok"] != true {
		t.Fatalf("objectArray %s", buf.String())
	}
	buf.Reset()
	if err := res.WriteTable(&buf, 0, -1); err != nil {
		t.Fatal(err)
	}
	var table struct {
		Columns []struct{ Name, Type string }
		Rows    [][]any
	}
	if err := json.Unmarshal(buf.Bytes(), &table); err != nil {
		t.Fatal(err)
	}
	wantTypes := "name:string n:object c:integer t:datetime ok:boolean r:number"
	var got []string
	for _, c := range table.Columns {
		got = append(got, c.Name+":"+c.Type)
	}
	if strings.Join(got, " ") != wantTypes || len(table.Rows) != 2 {
		t.Fatalf("table %s", buf.String())
	}
	res.MaxPayloadBytes = 10
	if err := res.WriteTable(&bytes.Buffer{}, 0, -1); ErrorCode(err) != CodePayloadTooLarge {
		t.Fatalf("payload limit: %v", err)
	}
}

func bigDB(t testing.TB, n int) *Snapshot {
	db := NewDatabase()
	var rows [][]byte
	for i := 0; i < n; i++ {
		rows = append(rows, []byte(fmt.Sprintf(`{"id":"/r/%d","name":"r%d","properties":{"k":%d}}`, i, i, i%10)))
	}
	if err := db.Upsert("Resources", rows...); err != nil {
		t.Fatal(err)
	}
	return db.Snapshot()
}

func TestBudgetsAndTimeouts(t *testing.T) {
	snap := bigDB(t, 5000)
	relaxed := RelaxedLimits()
	cross := `Resources | extend k = 1 | join kind=inner (Resources | extend k = 1) on k | count`
	_, err := mustParse(t, cross).Run(context.Background(), snap, RunOptions{Limits: &relaxed, MaxRows: 1000})
	if ErrorCode(err) != CodeRowLimitExceeded {
		t.Fatalf("row budget: %v", err)
	}
	_, err = mustParse(t, `Resources | order by name asc`).Run(context.Background(), snap, RunOptions{MaxBytes: 10_000})
	if ErrorCode(err) != CodePayloadTooLarge {
		t.Fatalf("memory budget: %v", err)
	}
	_, err = mustParse(t, cross).Run(context.Background(), snap, RunOptions{Limits: &relaxed, Timeout: 20 * time.Millisecond})
	if ErrorCode(err) != CodeTimeout {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = mustParse(t, `Resources | summarize count() by name`).Run(ctx, snap, RunOptions{})
	if ErrorCode(err) != CodeCanceled {
		t.Fatalf("cancel: %v", err)
	}
}

func TestTakeStopsEarly(t *testing.T) {
	snap := bigDB(t, 20000)
	// A predicate that counts its evaluations shows how many rows were read.
	calls := 0
	functions["test_count_calls"] = &fnSpec{min: 1, max: 1, typ: TypeBool, volatile: true, e1: func(a Value) Value { calls++; return boolValue(true) }}
	defer delete(functions, "test_count_calls")
	res := run(t, snap, `Resources | where test_count_calls(name) | take 10`, RunOptions{})
	if res.Len() != 10 || calls > 10 {
		t.Fatalf("take 10 read %d rows", calls)
	}
}

func TestPanicBecomesInternalError(t *testing.T) {
	functions["test_panic"] = &fnSpec{min: 1, max: 1, typ: TypeBool, volatile: true, e1: func(Value) Value { panic("boom") }}
	defer delete(functions, "test_panic")
	_, err := mustParse(t, `datatable(a:long)[1] | where test_panic(a)`).Run(context.Background(), nil, RunOptions{})
	if ErrorCode(err) != CodeInternal || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("%v", err)
	}
}

func TestInjectedClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	res := run(t, nil, `datatable(a:long)[1] | project n = now(), a = ago(1d)`, RunOptions{Now: func() time.Time { return at }})
	if res.Value(0, 0).String() != "2030-05-06T07:08:09Z" || res.Value(0, 1).String() != "2030-05-05T07:08:09Z" {
		t.Fatalf("%v", res.Row(0))
	}
}

func TestConcurrentReadsDuringWrites(t *testing.T) {
	db := NewDatabase()
	_ = db.Upsert("Resources", []byte(`{"id":"/r/0","name":"r0","properties":{"v":"x0"}}`))
	done := make(chan bool)
	go func() {
		for i := 1; i < 300; i++ {
			_ = db.Upsert("Resources", []byte(fmt.Sprintf(`{"id":"/r/%d","name":"r%d","properties":{"v":"x%d"}}`, i%50, i, i)))
		}
		close(done)
	}()
	q := mustParse(t, `Resources | where properties.v startswith "x" | summarize count()`)
	for {
		select {
		case <-done:
			return
		default:
		}
		res, err := q.Run(context.Background(), db.Snapshot(), RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Value(0, 0).Int(); n < 1 || n > 50 {
			t.Fatalf("count %d", n)
		}
	}
}

func TestValueSizeGuard(t *testing.T) {
	relaxed := RelaxedLimits()
	for _, text := range []string{
		`datatable(a:string)["x"] | extend b = strrep("abcdefgh", 60000) | extend c = replace_string(b, "a", strrep("z", 1000))`,
		`datatable(a:string)["x"] | extend b = strrep("abcdefgh", 60000) | extend c = pack_array(b, b) | extend c = pack_array(c, c) | extend c = pack_array(c, c) | extend c = pack_array(c, c) | extend c = pack_array(c, c) | extend c = pack_array(c, c)`,
	} {
		_, err := mustParse(t, text).Run(context.Background(), nil, RunOptions{Limits: &relaxed})
		if ErrorCode(err) != CodePayloadTooLarge {
			t.Errorf("%s: %v", text, err)
		}
	}
}

// TestIDIndexCollisions forces every id to the same hash, so all rows but
// one live in the overflow map, and checks upserts, replaces and deletes.
func TestIDIndexCollisions(t *testing.T) {
	saved := hashID
	hashID = func(string) uint64 { return 7 }
	defer func() { hashID = saved }()
	db := NewDatabase()
	var rows [][]byte
	for i := 0; i < 2100; i++ {
		rows = append(rows, []byte(fmt.Sprintf(`{"id":"/R/%d","name":"r%d"}`, i, i)))
	}
	if err := db.Upsert("Resources", rows...); err != nil {
		t.Fatal(err)
	}
	_ = db.Upsert("Resources", []byte(`{"id":"/r/5","name":"five"}`), []byte(`{"id":"/R/0","name":"zero"}`))
	db.Delete("Resources", "/r/1", "/r/2099", "/r/1024", "/r/nope")
	snap := db.Snapshot()
	res := run(t, snap, `Resources | summarize n = count(), five = countif(name == "five"), zero = countif(name == "zero"), gone = countif(name in ("r1", "r2099", "r1024"))`, RunOptions{})
	if got := fmt.Sprint(res.Row(0)); got != "[2097 1 1 0]" {
		t.Fatalf("got %s", got)
	}
	// Every remaining id is still found: replacing each adds no row.
	for i := 0; i < 2100; i++ {
		_ = db.Upsert("Resources", []byte(fmt.Sprintf(`{"id":"/r/%d","name":"again"}`, i)))
	}
	if n := db.Len("Resources"); n != 2100 {
		t.Fatalf("len %d after re-upserting (3 deleted rows come back)", n)
	}
}

// TestDeleteUnder: an ARM id and everything below it go, whatever the
// case; a sibling whose name only starts the same stays.
func TestDeleteUnder(t *testing.T) {
	db := NewDatabase()
	var rows [][]byte
	for i := 0; i < 1500; i++ { // more than a chunk: rows move as others go
		rows = append(rows, []byte(fmt.Sprintf(`{"id":"/Subscriptions/S/resourceGroups/rg%d/providers/P/t/r%d","name":"r%d"}`, i%3, i, i)))
	}
	rows = append(rows,
		[]byte(`{"id":"/subscriptions/s/resourcegroups/RG1","name":"rg1"}`),
		[]byte(`{"id":"/subscriptions/s/resourcegroups/rg10","name":"rg10"}`),
		[]byte(`{"id":"/subscriptions/s/resourcegroups/rg10/providers/P/t/r","name":"under rg10"}`))
	if err := db.Upsert("Resources", rows...); err != nil {
		t.Fatal(err)
	}
	if n := db.DeleteUnder("resources", "/subscriptions/s/resourcegroups/rg1"); n != 501 {
		t.Errorf("deleted %d rows, want 500 under rg1 and rg1 itself", n)
	}
	res := run(t, db.Snapshot(), `Resources | summarize n = count(), rg1 = countif(id contains "/resourceGroups/rg1/" or name == "rg1"), rg10 = countif(name startswith "rg10" or name == "under rg10")`, RunOptions{})
	if got := fmt.Sprint(res.Row(0)); got != "[1002 0 2]" {
		t.Fatalf("after deleting rg1: %s, want [1002 0 2] (1000 under rg0 and rg2, rg10 and its child)", got)
	}
	// The id index still finds every row left: replacing adds none.
	for i := 0; i < 1500; i += 3 {
		_ = db.Upsert("Resources", []byte(fmt.Sprintf(`{"id":"/subscriptions/s/resourcegroups/rg0/providers/p/t/r%d","name":"again"}`, i)))
	}
	if n := db.Len("Resources"); n != 1002 {
		t.Errorf("%d rows after re-upserting rg0's, want 1002", n)
	}
	if n := db.DeleteUnder("Nope", "/x"); n != 0 {
		t.Errorf("a missing table: %d", n)
	}
}
