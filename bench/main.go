// Command bench compares posture's kql engine with DuckDB on a synthetic
// Defender for Cloud estate: N assessment rows (about 1.9 KB of JSON each)
// loaded three ways — DuckDB with properties as a JSON column, DuckDB with
// properties as typed STRUCT columns, and posture's kql tables — then the
// same three queries, warm, reporting medians and ratios.
//
//	cd bench && go run . -rows 1000000 -runs 5
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/posture/posture/kql"
)

type query struct {
	name                     string
	kql, duckJSON, duckTyped string
}

func main() {
	rows := flag.Int("rows", 1_000_000, "number of assessment rows")
	runs := flag.Int("runs", 5, "warm runs per query (median reported)")
	dir := flag.String("dir", os.TempDir(), "directory for the NDJSON file")
	skipDuck := flag.Bool("skip-duckdb", false, "only run posture")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the posture queries")
	flag.Parse()

	gen := NewGenerator(42)
	sub := gen.Subscription(7)
	queries := []query{
		{
			name: "Q1 exemptions",
			kql: `SecurityResources
| where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt'
| extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName
| project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason`,
			duckJSON: `SELECT name AS assessmentKey, id, name, json_extract(properties, '$.displayName') AS displayName,
  lower(trim(json_extract_string(properties, '$.resourceDetails.Id'))) AS resourceId,
  json_extract(properties, '$.status.code') AS healthStatus, json_extract(properties, '$.status.cause') AS cause,
  json_extract(properties, '$.status.description') AS reason
FROM tj WHERE type = 'microsoft.security/assessments' AND json_extract_string(properties, '$.status.cause') = 'Exempt'`,
			duckTyped: `SELECT name AS assessmentKey, id, name, properties.displayName AS displayName,
  lower(trim(properties.resourceDetails.Id)) AS resourceId,
  properties.status.code AS healthStatus, properties.status.cause AS cause, properties.status.description AS reason
FROM tt WHERE type = 'microsoft.security/assessments' AND properties.status.cause = 'Exempt'`,
		},
		{
			name:      "Q2 count by status",
			kql:       `SecurityResources | summarize count() by tostring(properties.status.code)`,
			duckJSON:  `SELECT json_extract_string(properties, '$.status.code') AS code, count(*) FROM tj GROUP BY code`,
			duckTyped: `SELECT properties.status.code AS code, count(*) FROM tt GROUP BY code`,
		},
		{
			name:      "Q3 filtered count",
			kql:       fmt.Sprintf(`SecurityResources | where subscriptionId == '%s' and properties.metadata.severity == 'High' and properties.status.code == 'Unhealthy' | count`, sub),
			duckJSON:  fmt.Sprintf(`SELECT count(*) FROM tj WHERE subscriptionId = '%s' AND json_extract_string(properties, '$.metadata.severity') = 'High' AND json_extract_string(properties, '$.status.code') = 'Unhealthy'`, sub),
			duckTyped: fmt.Sprintf(`SELECT count(*) FROM tt WHERE subscriptionId = '%s' AND properties.metadata.severity = 'High' AND properties.status.code = 'Unhealthy'`, sub),
		},
	}

	// Generate once: rows go to posture in batches and to an NDJSON file.
	path := filepath.Join(*dir, fmt.Sprintf("posture-bench-%d.ndjson", *rows))
	f, err := os.Create(path)
	check(err)
	w := bufio.NewWriterSize(f, 1<<20)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	db := kql.NewDatabase()
	var jsonBytes int64
	start := time.Now()
	var loadTime time.Duration
	batch := make([][]byte, 0, 10000)
	flush := func() {
		t0 := time.Now()
		check(db.Upsert("SecurityResources", batch...))
		loadTime += time.Since(t0)
		batch = batch[:0]
	}
	for i := 0; i < *rows; i++ {
		b := gen.Row()
		jsonBytes += int64(len(b))
		w.Write(b)
		w.WriteByte('\n')
		batch = append(batch, b)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	check(w.Flush())
	check(f.Close())
	batch = nil
	runtime.GC()
	debug.FreeOSMemory()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	fmt.Printf("generated %d rows, %.0f bytes of JSON per row, in %v\n", *rows, float64(jsonBytes)/float64(*rows), time.Since(start).Round(time.Millisecond))
	fmt.Printf("posture: load (decode once) %v, heap held %.0f MB = %.0f bytes/row\n", loadTime.Round(time.Millisecond), float64(held)/1e6, float64(held)/float64(*rows))

	snap := db.Snapshot()
	ctx := context.Background()
	postureTimes := map[string]time.Duration{}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(pf))
	}
	for _, q := range queries {
		parsed, err := kql.Parse(q.kql, kql.ParseOptions{})
		check(err)
		var n int
		t0 := time.Now()
		res, err := parsed.Run(ctx, snap, kql.RunOptions{Timeout: 5 * time.Minute})
		check(err)
		materialize(res)
		cold := time.Since(t0)
		d := median(*runs, func() {
			res, err := parsed.Run(ctx, snap, kql.RunOptions{Timeout: 5 * time.Minute})
			check(err)
			n = materialize(res)
		})
		postureTimes[q.name] = d
		fmt.Printf("posture      %-20s %9.2f ms  (%d rows; cold first run %.2f ms)\n", q.name, ms(d), n, ms(cold))
	}
	take, _ := kql.Parse(`SecurityResources | take 10`, kql.ParseOptions{})
	dTake := median(*runs, func() {
		res, err := take.Run(ctx, snap, kql.RunOptions{})
		check(err)
		materialize(res)
	})
	fmt.Printf("posture      %-20s %9.3f ms\n", "take 10", ms(dTake))
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	runtime.GC()
	var afterQ runtime.MemStats
	runtime.ReadMemStats(&afterQ)
	fmt.Printf("posture: heap after queries %.0f bytes/row (path-code caches built by the queries: %+.0f bytes/row)\n",
		float64(int64(afterQ.HeapAlloc)-int64(before.HeapAlloc))/float64(*rows), float64(int64(afterQ.HeapAlloc)-int64(after.HeapAlloc))/float64(*rows))
	runtime.KeepAlive(snap) // the measurement above needs the tables alive

	if *skipDuck {
		return
	}
	duck, err := sql.Open("duckdb", "")
	check(err)
	duck.SetMaxOpenConns(1)
	mustExec(duck, "SET threads=2")
	t0 := time.Now()
	mustExec(duck, fmt.Sprintf(`CREATE TABLE tj AS SELECT * FROM read_json('%s', format='newline_delimited', columns={id:'VARCHAR', name:'VARCHAR', type:'VARCHAR', tenantId:'VARCHAR', kind:'VARCHAR', location:'VARCHAR', resourceGroup:'VARCHAR', subscriptionId:'VARCHAR', managedBy:'VARCHAR', properties:'JSON'})`, path))
	fmt.Printf("duckdb JSON  load %v\n", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	mustExec(duck, fmt.Sprintf(`CREATE TABLE tt AS SELECT id, name, type, tenantId, kind, location, resourceGroup, subscriptionId, managedBy, properties FROM read_json('%s', format='newline_delimited', sample_size=-1)`, path))
	fmt.Printf("duckdb typed load %v\n", time.Since(t0).Round(time.Millisecond))
	for _, q := range queries {
		var n int
		dj := median(*runs, func() { n = duckRun(duck, q.duckJSON) })
		fmt.Printf("duckdb JSON  %-20s %9.2f ms  (%d rows)\n", q.name, ms(dj), n)
		dt := median(*runs, func() { n = duckRun(duck, q.duckTyped) })
		fmt.Printf("duckdb typed %-20s %9.2f ms  (%d rows)\n", q.name, ms(dt), n)
		p := postureTimes[q.name]
		fmt.Printf("ratio        %-20s posture/JSON %.3f  posture/typed %.3f\n", q.name, float64(p)/float64(dj), float64(p)/float64(dt))
	}
	os.Remove(path)
}

// materialize touches every cell, as a server rendering the result would.
func materialize(res *kql.Result) int {
	cols := len(res.Columns())
	sink := 0
	for i := 0; i < res.Len(); i++ {
		for j := 0; j < cols; j++ {
			if !res.Value(i, j).IsNull() {
				sink++
			}
		}
	}
	_ = sink
	return res.Len()
}

func duckRun(db *sql.DB, q string) int {
	rows, err := db.Query(q)
	check(err)
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		check(rows.Scan(ptrs...))
		n++
	}
	check(rows.Err())
	return n
}

func median(runs int, f func()) time.Duration {
	f() // warm-up
	ds := make([]time.Duration, runs)
	for i := range ds {
		t := time.Now()
		f()
		ds[i] = time.Since(t)
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	return ds[runs/2]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func mustExec(db *sql.DB, q string) {
	_, err := db.Exec(q)
	check(err)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
