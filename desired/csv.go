package desired

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// column is one header cell of an EPAC CSV file.
type column struct {
	name string
	spec spec
	pos  Pos
	skip bool // unknown, repeated or a report column: reported once, at the header
}

// csvFile maps the reader's byte positions to character columns.
type csvFile struct {
	r     *reader
	cr    *csv.Reader
	data  []byte
	lines []int // offsets of line starts
}

func (f *csvFile) pos(field int) Pos {
	line, col := f.cr.FieldPos(field)
	if line >= 1 && line <= len(f.lines) {
		start := f.lines[line-1]
		if end := start + col - 1; col >= 1 && end <= len(f.data) {
			col = utf8.RuneCount(f.data[start:end]) + 1
		}
	}
	return Pos{File: f.r.file, Line: line, Column: col}
}

// parseCSV reads an EPAC exemption CSV: a header row naming the columns
// (in any order), then one exemption per row. Rows whose cells are all
// blank are skipped, as EPAC does.
func parseCSV(r *reader, c *checker, data []byte) []Entry {
	c.format = epacCSV
	f := &csvFile{r: r, cr: csv.NewReader(bytes.NewReader(data)), data: data, lines: []int{0}}
	for i, b := range data {
		if b == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	f.cr.FieldsPerRecord = -1 // a short row is reported, not fatal
	header, err := f.cr.Read()
	if err != nil {
		f.syntax(err)
		return nil
	}
	cols, ok := f.header(header)
	if !ok {
		return nil
	}
	var entries []Entry
	for {
		rec, err := f.cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The reader cannot be trusted to find the next row after a
			// quoting mistake, so reading stops here.
			f.syntax(err)
			break
		}
		if blankRow(rec) {
			continue
		}
		if len(entries) == MaxEntries {
			r.probs.add(f.pos(0), "", CodeTooManyEntries, "The file has more than %d exemptions; at most %d are read from one file.", MaxEntries, MaxEntries)
			break
		}
		entries = append(entries, c.entry(f.row(rec, cols, len(entries))))
	}
	return entries
}

func blankRow(rec []string) bool {
	for _, cell := range rec {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

func (f *csvFile) syntax(err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line, col := pe.Line, pe.Column
		if line >= 1 && line <= len(f.lines) && col >= 1 {
			start := f.lines[line-1]
			if end := start + col - 1; end <= len(f.data) {
				col = utf8.RuneCount(f.data[start:end]) + 1
			}
		}
		f.r.probs.add(Pos{File: f.r.file, Line: max(line, 1), Column: col}, "", CodeInvalidCSV, "The file is not valid CSV: %v.", pe.Err)
		return
	}
	f.r.probs.add(Pos{File: f.r.file, Line: 1}, "", CodeInvalidCSV, "The file is not valid CSV: %v.", err)
}

// header reads the column names; ok is false when a column that every
// row needs is missing, since then no row can be read.
func (f *csvFile) header(header []string) ([]column, bool) {
	cols := make([]column, len(header))
	seen := map[string]Pos{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		col := column{name: name, pos: f.pos(i)}
		sp, known := epacCSV.fields[name]
		switch prev, dup := seen[name]; {
		case name == "":
			col.skip = true // a trailing comma; a value under it is reported per row
		case dup:
			f.r.probs.add(col.pos, name, CodeDuplicateField, "The column '%s' is given twice; the first is at %s.", name, prev)
			col.skip = true
		case !known:
			f.r.unknown(col.pos, name, name, epacCSV)
			col.skip = true
		case sp.kind == kReport:
			f.r.report(col.pos, name, name)
			col.skip = true
		}
		seen[name] = col.pos
		col.spec = sp
		cols[i] = col
	}
	start := Pos{File: f.r.file, Line: 1, Column: 1}
	ok := true
	for _, need := range [][]string{{fName}, {fDisplayName}, {"exemptionCategory"}, {fScope, fScopes}, {"assignmentReferenceId", "policyAssignmentId"}} {
		found := false
		for _, n := range need {
			_, has := seen[n]
			found = found || has
		}
		if !found {
			ok = false
			f.r.probs.add(start, need[0], CodeMissingField, "The CSV has no column %s.", quoteOr(need))
		}
	}
	return cols, ok
}

func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, " or ")
}

// row turns one record into a raw entry. Empty cells are fields not given.
func (f *csvFile) row(rec []string, cols []column, i int) *raw {
	path := index("exemptions", i)
	e := &raw{pos: f.pos(0), index: i, path: path, vals: make(map[string]*value, len(cols))}
	if len(rec) != len(cols) {
		f.r.probs.add(e.pos, path, CodeInvalidCSV, "The row has %d cells; the header has %d.", len(rec), len(cols))
	}
	for j, cell := range rec[:min(len(rec), len(cols))] {
		col := cols[j]
		if strings.TrimSpace(cell) == "" {
			continue
		}
		pos := f.pos(j)
		if col.name == "" {
			f.r.probs.add(pos, path, CodeUnknownField, "The cell has a value, but its column has no name in the header.")
			continue
		}
		if col.skip {
			continue
		}
		field := path + "." + col.name
		val := &value{written: col.name, pos: pos}
		key := col.spec.key
		switch col.spec.kind {
		case kString:
			val.text = cell
		case kList:
			val.list = f.list(cell, pos, field)
		case kObject, kArray:
			if !f.jsonCell(val, cell, col.spec.kind, field) {
				e.markInvalid(key)
				continue
			}
		case kRef:
			val.text = strings.TrimSpace(cell)
			key, val.text = reference(val.text)
			if key == "" {
				f.r.probs.add(pos, field, CodeInvalidAssignment,
					"'%s' is none of: a policy assignment id, a policy definition or policy set definition id, policyDefinitions/{name}, policySetDefinitions/{name}.", clip(cell))
				e.markInvalid(fAssignment)
				continue
			}
		}
		if prev := e.vals[key]; prev != nil {
			f.r.probs.add(pos, field, CodeConflictingFields, "Give only one of %s and %s.", prev.written, col.name)
			continue
		}
		e.vals[key] = val
	}
	return e
}

// list splits a list cell at '&'. EPAC used ',' before v10.1.0; a comma
// left in a cell is reported, as a scope or reference id never has one.
func (f *csvFile) list(cell string, pos Pos, field string) []item {
	var out []item
	for _, s := range strings.Split(cell, "&") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, ",") {
			f.r.probs.add(pos, field, CodeListSeparator, "EPAC separates the items of a list cell with '&' (since v10.1.0), not ','; write '%s'.", clip(strings.ReplaceAll(s, ",", "&")))
			continue
		}
		out = append(out, item{s, pos})
	}
	if out == nil {
		out = []item{} // given, if only with separators: not the same as absent
	}
	return out
}

// jsonCell reads a cell holding a JSON object or array.
func (f *csvFile) jsonCell(val *value, cell string, k kind, field string) bool {
	cell = strings.TrimSpace(cell)
	what, open := "an object", byte('{')
	if k == kArray {
		what, open = "an array", '['
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(cell)); err != nil {
		f.r.probs.add(val.pos, field, CodeInvalidJSON, "The cell must hold a JSON %s: %v.", strings.TrimPrefix(what, "an "), err)
		return false
	}
	if b.Bytes()[0] != open {
		f.r.probs.add(val.pos, field, CodeWrongType, "The cell must hold a JSON %s.", strings.TrimPrefix(what, "an "))
		return false
	}
	val.json = b.Bytes()
	return true
}

// reference reads EPAC's assignmentReferenceId, which names the target by
// its form: policyDefinitions/{name}, policySetDefinitions/{name}, or the
// id of a policy definition, policy set definition or policy assignment.
func reference(s string) (key, value string) {
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "policydefinitions/"):
		return fDefName, s[len("policyDefinitions/"):]
	case strings.HasPrefix(lower, "policysetdefinitions/"):
		return fSetName, s[len("policySetDefinitions/"):]
	case strings.Contains(lower, "/providers/microsoft.authorization/policydefinitions/"):
		return fDefID, s
	case strings.Contains(lower, "/providers/microsoft.authorization/policysetdefinitions/"):
		return fSetID, s
	case strings.Contains(lower, "/providers/microsoft.authorization/policyassignments/"):
		return fAssignment, s
	}
	return "", s
}
