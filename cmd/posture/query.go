package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/posture/posture/client"
)

// QueryCmd runs a Resource Graph query against a server.
type QueryCmd struct {
	Query string `arg:"" help:"KQL query, e.g. \"securityresources | where type == 'microsoft.security/assessments' | take 5\"."`
	ClientFlags
	Data          string   `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Subscriptions []string `help:"Limit the query to these subscriptions."`
	First         int      `default:"1000" help:"Rows to fetch at most (pages of up to 1000)."`
	OutputFlags
}

// graphAPIVersion is the Resource Graph version the CLI speaks.
const graphAPIVersion = "2024-04-01"

// Run fetches the rows page by page and prints them: a table with the
// query's columns, CSV, or JSON and YAML objects (one per row).
func (c *QueryCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	if c.First < 1 {
		return usageError{fmt.Errorf("--first must be positive")}
	}
	bar := newProgress(streams.Err, "fetching").unit("rows")
	columns, rows, err := graphQuery(ctx, cl, c.Query, c.Subscriptions, c.First, bar)
	if err != nil {
		return err
	}
	return c.print(streams.Out, formatTable, view{Data: rowObjects(columns, rows), Columns: columns, Rows: rows, RawHeaders: true})
}

// graphQuery runs a Resource Graph query and returns up to first rows,
// reading page after page.
func graphQuery(ctx context.Context, cl *client.Client, query string, subscriptions []string, first int, bar *progress) ([]string, [][]any, error) {
	defer bar.done()
	var columns []string
	rows := [][]any{}
	skipToken := ""
	for len(rows) < first {
		top := min(1000, first-len(rows))
		req := map[string]any{"query": query, "options": map[string]any{"resultFormat": "table", "$top": top, "$skipToken": skipToken}}
		if len(subscriptions) > 0 {
			req["subscriptions"] = subscriptions
		}
		var resp struct {
			Data struct {
				Columns []struct{ Name string } `json:"columns"`
				Rows    [][]any                 `json:"rows"`
			} `json:"data"`
			SkipToken string `json:"$skipToken"`
		}
		if _, err := cl.Do(ctx, "POST", "/providers/Microsoft.ResourceGraph/resources", graphAPIVersion, nil, req, &resp); err != nil {
			return nil, nil, err
		}
		if columns == nil {
			columns = []string{}
			for _, col := range resp.Data.Columns {
				columns = append(columns, col.Name)
			}
		}
		rows = append(rows, resp.Data.Rows...)
		bar.add(len(resp.Data.Rows), "")
		if resp.SkipToken == "" {
			break
		}
		skipToken = resp.SkipToken
	}
	return columns, rows, nil
}

// rowObjects turns a table's rows into JSON objects keyed by column, in
// the columns' order.
func rowObjects(columns []string, rows [][]any) []json.RawMessage {
	objs := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		var b bytes.Buffer
		b.WriteByte('{')
		for j, col := range columns {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(col)
			var v any
			if j < len(r) {
				v = r[j]
			}
			val, err := json.Marshal(v)
			if err != nil {
				val = []byte("null")
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(val)
		}
		b.WriteByte('}')
		objs[i] = b.Bytes()
	}
	return objs
}

// kqlString escapes s for a single-quoted KQL string literal.
func kqlString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`).Replace(s)
}
