package kql

import (
	"bufio"
	"context"
	"io"

	"github.com/posture/posture/jsonw"
)

// Result is the output of a query. Rows are kept as produced (straight
// from storage where possible) and cells are rendered on demand, so a large
// result costs little until it is written.
type Result struct {
	cols []Column
	rows []row
	get  []getter
	// MaxPayloadBytes bounds what one Write call may produce; past it the
	// write fails with ResponsePayloadTooLarge (ARG: 16 MiB).
	MaxPayloadBytes int64
}

// DefaultMaxPayloadBytes is ARG's response payload limit.
const DefaultMaxPayloadBytes = 16 << 20

// collect runs a plan to completion.
func collect(st *execState, p *plan) *Result {
	rows := drain(st, p.open(st), 0)
	return &Result{cols: p.cols, rows: rows, get: p.get, MaxPayloadBytes: DefaultMaxPayloadBytes}
}

// Columns returns the result columns.
func (r *Result) Columns() []Column { return r.cols }

// Len returns the number of rows.
func (r *Result) Len() int { return len(r.rows) }

// Value returns cell (i, j).
func (r *Result) Value(i, j int) Value { return r.get[j](&r.rows[i]) }

// Row returns row i as plain Go values (see Value.Interface).
func (r *Result) Row(i int) []any {
	out := make([]any, len(r.cols))
	for j := range r.cols {
		out[j] = r.Value(i, j).Interface()
	}
	return out
}

func (r *Result) window(skip, top int) (int, int) {
	if skip < 0 {
		skip = 0
	}
	if skip > len(r.rows) {
		skip = len(r.rows)
	}
	end := len(r.rows)
	if top >= 0 && skip+top < end {
		end = skip + top
	}
	return skip, end
}

// payloadWriter writes through a buffer and enforces the payload limit.
type payloadWriter struct {
	w     *bufio.Writer
	limit int64
	n     int64
	buf   []byte
}

func (p *payloadWriter) flushBuf() error {
	p.n += int64(len(p.buf))
	if p.limit > 0 && p.n > p.limit {
		return newError(CodePayloadTooLarge, "the response is larger than %d bytes; use $top, project or summarize to reduce it", p.limit)
	}
	_, err := p.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

// WriteObjectArray writes rows [skip, skip+top) in ARG's objectArray
// format: [{"col": value, ...}, ...]. top < 0 means all rows.
func (r *Result) WriteObjectArray(w io.Writer, skip, top int) (err error) {
	defer recoverWrite(&err)
	start, end := r.window(skip, top)
	pw := &payloadWriter{w: bufio.NewWriterSize(w, 64<<10), limit: r.MaxPayloadBytes}
	keys := make([][]byte, len(r.cols))
	for j, c := range r.cols {
		keys[j] = append(jsonw.AppendString(nil, c.Name), ':')
	}
	pw.buf = append(pw.buf, '[')
	for i := start; i < end; i++ {
		if i > start {
			pw.buf = append(pw.buf, ',')
		}
		pw.buf = append(pw.buf, '{')
		for j := range r.cols {
			if j > 0 {
				pw.buf = append(pw.buf, ',')
			}
			pw.buf = append(pw.buf, keys[j]...)
			pw.buf = appendValueJSON(pw.buf, r.Value(i, j))
		}
		pw.buf = append(pw.buf, '}')
		if len(pw.buf) > 32<<10 {
			if err := pw.flushBuf(); err != nil {
				return err
			}
		}
	}
	pw.buf = append(pw.buf, ']')
	if err := pw.flushBuf(); err != nil {
		return err
	}
	return pw.w.Flush()
}

// WriteTable writes rows [skip, skip+top) in ARG's table format:
// {"columns":[{"name","type"}],"rows":[[...]]}.
func (r *Result) WriteTable(w io.Writer, skip, top int) (err error) {
	defer recoverWrite(&err)
	start, end := r.window(skip, top)
	pw := &payloadWriter{w: bufio.NewWriterSize(w, 64<<10), limit: r.MaxPayloadBytes}
	pw.buf = append(pw.buf, `{"columns":[`...)
	for j, c := range r.cols {
		if j > 0 {
			pw.buf = append(pw.buf, ',')
		}
		pw.buf = append(pw.buf, `{"name":`...)
		pw.buf = jsonw.AppendString(pw.buf, c.Name)
		pw.buf = append(pw.buf, `,"type":`...)
		pw.buf = jsonw.AppendString(pw.buf, c.Type.ARGType())
		pw.buf = append(pw.buf, '}')
	}
	pw.buf = append(pw.buf, `],"rows":[`...)
	for i := start; i < end; i++ {
		if i > start {
			pw.buf = append(pw.buf, ',')
		}
		pw.buf = append(pw.buf, '[')
		for j := range r.cols {
			if j > 0 {
				pw.buf = append(pw.buf, ',')
			}
			pw.buf = appendValueJSON(pw.buf, r.Value(i, j))
		}
		pw.buf = append(pw.buf, ']')
		if len(pw.buf) > 32<<10 {
			if err := pw.flushBuf(); err != nil {
				return err
			}
		}
	}
	pw.buf = append(pw.buf, "]}"...)
	if err := pw.flushBuf(); err != nil {
		return err
	}
	return pw.w.Flush()
}

// recoverWrite turns a panic while rendering cells into an internal error:
// the server must never crash on a result.
func recoverWrite(err *error) {
	if r := recover(); r != nil {
		*err = recoveredError(r, context.Background())
	}
}
