package kql

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// The script format is documented in testdata/README.md.

type scriptCase struct {
	file, name string
	line       int
	query      string
	snap       *Snapshot
	now        time.Time
	superset   bool
	relaxed    bool
	ordered    bool
	wantErr    string
	wantCols   []string // "name" or "name:type"
	wantRows   []string // JSON arrays
	filterSubs []string
}

func loadScripts(t testing.TB) []*scriptCase {
	files, err := filepath.Glob("testdata/*.kqltest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	var cases []*scriptCase
	for _, f := range files {
		cs, err := parseScript(f)
		if err != nil {
			t.Fatalf("%s", err)
		}
		cases = append(cases, cs...)
	}
	return cases
}

func parseScript(path string) ([]*scriptCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	db := NewDatabase()
	now := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	var cases []*scriptCase
	autoID := 0
	fail := func(i int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, i+1, fmt.Sprintf(format, args...))
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t\r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "now "):
			ts, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(line[4:]))
			if err != nil {
				return nil, fail(i, "bad now: %v", err)
			}
			now = ts
		case strings.HasPrefix(line, "load "):
			table := strings.TrimSpace(line[5:])
			var rows [][]byte
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				l := strings.TrimSpace(lines[i])
				if strings.HasPrefix(l, "#") {
					continue
				}
				var obj map[string]any
				if err := json.Unmarshal([]byte(l), &obj); err != nil {
					return nil, fail(i, "bad row: %v", err)
				}
				if _, ok := obj["id"]; !ok {
					autoID++
					l = fmt.Sprintf(`{"id":"/auto/%d",%s`, autoID, strings.TrimPrefix(l, "{"))
					if strings.TrimSpace(strings.TrimPrefix(l[strings.Index(l, ",")+1:], "")) == "}" {
						l = fmt.Sprintf(`{"id":"/auto/%d"}`, autoID)
					}
				}
				rows = append(rows, []byte(l))
			}
			if err := db.Upsert(table, rows...); err != nil {
				return nil, fail(i, "load: %v", err)
			}
		case strings.HasPrefix(line, "table "):
			db.CreateTable(strings.TrimSpace(line[6:]))
		case line == "eval" || strings.HasPrefix(line, "eval "):
			c := &scriptCase{file: filepath.Base(path), line: i + 1, snap: db.Snapshot(), now: now}
			for _, flag := range strings.Fields(line)[1:] {
				switch {
				case flag == "superset":
					c.superset = true
				case flag == "relaxed":
					c.relaxed = true
				case flag == "ordered":
					c.ordered = true
				case strings.HasPrefix(flag, "subscriptions="):
					c.filterSubs = strings.Split(strings.TrimPrefix(flag, "subscriptions="), ",")
					if c.filterSubs[0] == "" {
						c.filterSubs = []string{}
					}
				default:
					return nil, fail(i, "unknown eval flag %q", flag)
				}
			}
			var q []string
			for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "=>") {
				i++
				q = append(q, lines[i])
				if strings.TrimSpace(lines[i]) == "" && len(q) > 0 {
					return nil, fail(i, "blank line inside a query (missing => line?)")
				}
			}
			if i+1 >= len(lines) {
				return nil, fail(i, "eval without => line")
			}
			i++
			c.query = strings.Join(q, "\n")
			exp := strings.TrimSpace(strings.TrimPrefix(lines[i], "=>"))
			if strings.HasPrefix(exp, "error ") {
				c.wantErr = strings.TrimSpace(exp[6:])
			} else {
				if exp != "" {
					for _, col := range strings.Split(exp, ",") {
						c.wantCols = append(c.wantCols, strings.TrimSpace(col))
					}
				}
				for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
					i++
					l := strings.TrimSpace(lines[i])
					if strings.HasPrefix(l, "#") {
						continue
					}
					c.wantRows = append(c.wantRows, l)
				}
			}
			c.name = fmt.Sprintf("%s:%d", c.file, c.line)
			cases = append(cases, c)
		default:
			return nil, fail(i, "unexpected line %q", line)
		}
	}
	return cases, nil
}

// normJSON decodes and re-encodes JSON so that formatting and number
// spelling do not matter (1 == 1.0).
func normJSON(s string) (string, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	v = normNumbers(v)
	b, err := json.Marshal(v)
	return string(b), err
}

func normNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normNumbers(x[k])
		}
	}
	return v
}

func (c *scriptCase) run(t *testing.T) {
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
}

// check runs the case and describes the first mismatch.
func (c *scriptCase) check() error {
	q, err := Parse(c.query, ParseOptions{Superset: c.superset})
	var res *Result
	if err == nil {
		opts := RunOptions{Now: func() time.Time { return c.now }}
		if c.relaxed {
			l := RelaxedLimits()
			opts.Limits = &l
		}
		if c.filterSubs != nil {
			opts.Filter = SubscriptionFilter(c.filterSubs...)
		}
		res, err = q.Run(context.Background(), c.snap, opts)
	}
	if c.wantErr != "" {
		if err == nil {
			return fmt.Errorf("%s: want error %s, got a result with %d rows", c.name, c.wantErr, res.Len())
		}
		if got := string(ErrorCode(err)); got != c.wantErr {
			return fmt.Errorf("%s: want error %s, got %v", c.name, c.wantErr, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %v\nquery:\n%s", c.name, err, c.query)
	}
	var gotCols []string
	for j, col := range res.Columns() {
		if j < len(c.wantCols) && strings.Contains(c.wantCols[j], ":") {
			gotCols = append(gotCols, col.Name+":"+col.Type.String())
		} else {
			gotCols = append(gotCols, col.Name)
		}
	}
	if !reflect.DeepEqual(gotCols, c.wantCols) {
		return fmt.Errorf("%s: columns\n got %v\nwant %v", c.name, gotCols, c.wantCols)
	}
	var got, want []string
	for i := 0; i < res.Len(); i++ {
		b := []byte{'['}
		for j := range res.Columns() {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendValueJSON(b, res.Value(i, j))
		}
		b = append(b, ']')
		n, err := normJSON(string(b))
		if err != nil {
			return fmt.Errorf("%s: result row %d is not JSON: %s", c.name, i, b)
		}
		got = append(got, n)
	}
	for _, r := range c.wantRows {
		n, err := normJSON(r)
		if err != nil {
			return fmt.Errorf("%s: expected row %q is not JSON: %v", c.name, r, err)
		}
		want = append(want, n)
	}
	if !c.ordered {
		sort.Strings(got)
		sort.Strings(want)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%s: rows\n got %s\nwant %s\nquery:\n%s", c.name, strings.Join(got, "\n     "), strings.Join(want, "\n     "), c.query)
	}
	return nil
}

func TestScripts(t *testing.T) {
	for _, c := range loadScripts(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// TestScriptRunnerDetectsMismatches: a wrong expectation must fail, so a
// passing corpus means something.
func TestScriptRunnerDetectsMismatches(t *testing.T) {
	base := scriptCase{name: "self", query: `datatable(a:long)[1, 2]`, snap: NewDatabase().Snapshot(), wantCols: []string{"a:long"}}
	good := base
	good.wantRows = []string{"[1]", "[2]"}
	if err := good.check(); err != nil {
		t.Fatalf("correct expectation failed: %v", err)
	}
	for name, mutate := range map[string]func(c *scriptCase){
		"row value":   func(c *scriptCase) { c.wantRows = []string{"[1]", "[3]"} },
		"row count":   func(c *scriptCase) { c.wantRows = []string{"[1]"} },
		"column name": func(c *scriptCase) { c.wantCols = []string{"b:long"}; c.wantRows = []string{"[1]", "[2]"} },
		"column type": func(c *scriptCase) { c.wantCols = []string{"a:string"}; c.wantRows = []string{"[1]", "[2]"} },
		"order":       func(c *scriptCase) { c.ordered = true; c.wantRows = []string{"[2]", "[1]"} },
		"error code":  func(c *scriptCase) { c.wantErr = "ParserFailure" },
	} {
		c := base
		mutate(&c)
		if err := c.check(); err == nil {
			t.Errorf("%s: a wrong expectation passed", name)
		}
	}
}
