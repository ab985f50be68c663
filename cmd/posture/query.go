package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// QueryCmd runs a Resource Graph query against a server.
type QueryCmd struct {
	Query string `arg:"" help:"KQL query, e.g. \"securityresources | where type == 'microsoft.security/assessments' | take 5\"."`
	ClientFlags
	Data          string   `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Output        string   `short:"o" default:"table" enum:"table,json,csv" help:"Output format: table, json or csv."`
	Subscriptions []string `help:"Limit the query to these subscriptions."`
	First         int      `default:"1000" help:"Rows to fetch at most (pages of up to 1000)."`
}

// graphAPIVersion is the Resource Graph version the CLI speaks.
const graphAPIVersion = "2024-04-01"

// Run fetches the rows page by page and prints them.
func (c *QueryCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	if c.First < 1 {
		return usageError{fmt.Errorf("--first must be positive")}
	}
	var columns []string
	var rows [][]any
	skipToken := ""
	for len(rows) < c.First {
		top := min(1000, c.First-len(rows))
		req := map[string]any{"query": c.Query, "options": map[string]any{"resultFormat": "table", "$top": top, "$skipToken": skipToken}}
		if len(c.Subscriptions) > 0 {
			req["subscriptions"] = c.Subscriptions
		}
		var resp struct {
			Data struct {
				Columns []struct{ Name string } `json:"columns"`
				Rows    [][]any                 `json:"rows"`
			} `json:"data"`
			SkipToken string `json:"$skipToken"`
		}
		if _, err := cl.Do(ctx, "POST", "/providers/Microsoft.ResourceGraph/resources", graphAPIVersion, nil, req, &resp); err != nil {
			return err
		}
		if columns == nil {
			for _, col := range resp.Data.Columns {
				columns = append(columns, col.Name)
			}
		}
		rows = append(rows, resp.Data.Rows...)
		if resp.SkipToken == "" {
			break
		}
		skipToken = resp.SkipToken
	}
	return writeRows(streams.Out, c.Output, columns, rows)
}

// writeRows prints a result as a table, JSON objects or CSV.
func writeRows(out io.Writer, format string, columns []string, rows [][]any) error {
	switch format {
	case "json":
		objs := make([]map[string]any, len(rows))
		for i, r := range rows {
			objs[i] = map[string]any{}
			for j, col := range columns {
				if j < len(r) {
					objs[i][col] = r[j]
				}
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(objs)
	case "csv":
		w := csv.NewWriter(out)
		if err := w.Write(columns); err != nil {
			return err
		}
		for _, r := range rows {
			rec := make([]string, len(columns))
			for j := range columns {
				if j < len(r) {
					rec[j] = cell(r[j])
				}
			}
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		w.Flush()
		return w.Error()
	}
	w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(columns, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for j, v := range r {
			cells[j] = clipText(strings.ReplaceAll(cell(v), "\t", " "), 80)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	return w.Flush()
}

// cell renders one value: strings as they are, the rest as JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}
