package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Output formats. A command that reads a list prints a table unless told
// otherwise; one that reads or writes a single document prints it as JSON.
// The default does not depend on whether standard output is a terminal:
// what a command prints in a shell is what a script piping it gets.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
	formatCSV   = "csv"
)

// OutputFlags choose how a command prints. POSTURE_OUTPUT sets -o for
// every command (kong's default environment variable).
type OutputFlags struct {
	Output string `short:"o" enum:",table,json,yaml,csv" default:"" placeholder:"FORMAT" help:"Output format: table, json, yaml or csv (default: table for lists, json for single documents)."`
	JSON   bool   `name:"json" help:"Same as -o json."`
}

// format returns the chosen format, def when none was chosen.
func (f *OutputFlags) format(def string) (string, error) {
	if f.JSON {
		if f.Output != "" && f.Output != formatJSON {
			return "", usageError{fmt.Errorf("--json and -o %s contradict each other", f.Output)}
		}
		return formatJSON, nil
	}
	if f.Output == "" {
		return def, nil
	}
	return f.Output, nil
}

// view is what a command prints: Data (the API's documents) for json and
// yaml; Columns and Rows for table and csv. Table headers are the columns
// spelt as words in capitals ("expiresOn" → "EXPIRES ON") unless
// RawHeaders (a query's own column names).
type view struct {
	Data       any
	Columns    []string
	Rows       [][]any
	RawHeaders bool
	// Text, when set, prints the table format instead of Columns and Rows
	// (a summary that is not one table).
	Text func(w io.Writer) error
}

// print writes v in the chosen format (def when none was chosen).
func (f *OutputFlags) print(w io.Writer, def string, v view) error {
	format, err := f.format(def)
	if err != nil {
		return err
	}
	return writeView(w, format, v)
}

func writeView(w io.Writer, format string, v view) error {
	switch format {
	case formatJSON:
		return printJSON(w, v.Data)
	case formatYAML:
		return printYAML(w, v.Data)
	case formatCSV:
		return writeCSV(w, v.Columns, v.Rows)
	}
	if v.Text != nil {
		return v.Text(w)
	}
	headers := v.Columns
	if !v.RawHeaders {
		headers = make([]string, len(v.Columns))
		for i, c := range v.Columns {
			headers[i] = headerOf(c)
		}
	}
	return writeTable(w, headers, v.Columns, v.Rows)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printYAML writes v as YAML, with the keys of its JSON form in their
// order (the API's documents read as the API sends them).
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n yaml.Node
	// JSON is YAML: decoding it into a node keeps the keys' order.
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle turns the flow style and quotes of a node decoded from JSON
// into YAML's usual block style; the encoder quotes what needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// writeCSV writes the columns and rows as CSV. A text cell that a
// spreadsheet would run as a formula gets a leading apostrophe.
func writeCSV(w io.Writer, columns []string, rows [][]any) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(columns))
	for i, c := range columns {
		rec[i] = csvSafe(c)
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, len(columns))
		for j := range columns {
			if j < len(r) {
				rec[j] = csvCell(r[j])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell renders a value for CSV: text made safe, numbers and booleans
// as they are (never a formula), the rest as compact JSON made safe.
func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return csvSafe(x)
	case bool, int, int64, float64, json.Number:
		return cell(x)
	case json.RawMessage:
		x = bytes.TrimSpace(x)
		if string(x) == "null" {
			return ""
		}
		if len(x) > 0 && x[0] != '"' && x[0] != '{' && x[0] != '[' {
			return string(x) // a number, a boolean or null
		}
		return csvSafe(cell(x))
	}
	return csvSafe(cell(v))
}

// csvSafe neutralises spreadsheet formula injection: a text that starts
// with = + - @ (or a tab or carriage return, which some spreadsheets skip
// before one) is prefixed with an apostrophe, so it stays text (as the
// portal's CSV downloads do).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// tableClip is the widest a table cell gets (ids excepted: they are
// copied and pasted).
const tableClip = 80

// writeTable writes an aligned table. Cells are one line; long ones are
// clipped, except ids.
func writeTable(w io.Writer, headers, columns []string, rows [][]any) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for j, v := range r {
			s := strings.Map(func(r rune) rune {
				if r == '\t' || r == '\n' || r == '\r' {
					return ' '
				}
				return r
			}, cell(v))
			if j >= len(columns) || !isIDColumn(columns[j]) {
				s = clipText(s, tableClip)
			}
			cells[j] = s
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func isIDColumn(c string) bool {
	return c == "id" || c == "scope" || strings.HasSuffix(c, "Id") || strings.HasSuffix(c, "ID")
}

// headerOf spells a column name as a table header: "expiresOn" → "EXPIRES
// ON".
func headerOf(col string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range col {
		if unicode.IsUpper(r) && prev != 0 && !unicode.IsUpper(prev) && prev != ' ' {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
		prev = r
	}
	return b.String()
}

// cell renders one value: strings as they are, the rest as JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			return s
		}
		var b bytes.Buffer
		if json.Compact(&b, x) == nil {
			return b.String()
		}
		return string(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// docView is the view of one JSON document: itself for json and yaml, and
// for table and csv one row per leaf, named by its path
// (properties.metadata.ticketRef), in the document's order.
func docView(doc json.RawMessage) (view, error) {
	v := view{Data: doc, Columns: []string{"field", "value"}}
	err := flatten(doc, func(path string, value any) {
		v.Rows = append(v.Rows, []any{path, value})
	})
	return v, err
}

// flatten calls leaf for each scalar of a JSON document (arrays of
// scalars as one comma-separated value), in the document's order.
func flatten(doc json.RawMessage, leaf func(path string, value any)) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			empty := true
			for dec.More() {
				empty = false
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				p := key
				if path != "" {
					p = path + "." + key
				}
				if err := walk(p); err != nil {
					return err
				}
			}
			if empty && path != "" {
				leaf(path, "{}")
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			var raw []json.RawMessage
			// Re-read the array: scalars join, objects get indexes.
			for dec.More() {
				var m json.RawMessage
				if err := dec.Decode(&m); err != nil {
					return err
				}
				raw = append(raw, m)
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			scalars := make([]string, 0, len(raw))
			for _, m := range raw {
				m = bytes.TrimSpace(m)
				if len(m) > 0 && (m[0] == '{' || m[0] == '[') {
					scalars = nil
					break
				}
				scalars = append(scalars, cell(m))
			}
			if scalars != nil || len(raw) == 0 {
				leaf(path, strings.Join(scalars, ", "))
				return nil
			}
			for i, m := range raw {
				if err := flatten(m, func(p string, v any) {
					sep := "."
					if strings.HasPrefix(p, "[") || p == "" {
						sep = ""
					}
					leaf(fmt.Sprintf("%s[%d]%s%s", path, i, sep, p), v)
				}); err != nil {
					return err
				}
			}
			return nil
		case nil:
			leaf(path, nil)
		default:
			if n, ok := tok.(json.Number); ok {
				leaf(path, n)
			} else {
				leaf(path, tok)
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("flatten: more than one JSON value")
	}
	return nil
}

// printDoc prints one document: JSON unless told otherwise.
func (f *OutputFlags) printDoc(w io.Writer, doc json.RawMessage) error {
	v, err := docView(doc)
	if err != nil {
		return err
	}
	return f.print(w, formatJSON, v)
}
