package armdoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decoder streams documents out of a reader holding any of:
//
//   - one ARM document, or several one after the other (JSON Lines);
//   - an array of documents;
//   - an ARM list {"value":[…],"nextLink":…};
//   - a Resource Graph result {"data":[…]} (objectArray, as `az graph query`
//     prints it) or {"data":{"columns":[…],"rows":[[…]]}} (table format).
//
// Arrays are read element by element, so a file of a million documents
// never sits in memory whole. Every document is checked to be valid JSON. A
// syntax error ends the stream: JSON cannot be resynchronised after one.
type Decoder struct {
	in      *reader
	stack   []frame // where we are: the arrays and wrapper objects entered
	columns []string
	queued  []byte
	index   int
	err     error
}

// frame is an array of documents or a top-level object being read.
type frame struct {
	array    bool
	table    bool   // array of table-format rows
	fields   object // object: members kept so far
	hadArray bool   // object: a document array was found in it (a list wrapper)
	first    bool   // array or object: no element read yet
}

// NewDecoder returns a Decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{in: &reader{r: r, buf: make([]byte, 0, 64<<10)}}
}

// Index returns the number of documents returned so far.
func (d *Decoder) Index() int { return d.index }

// Next returns the next document, or io.EOF after the last one.
func (d *Decoder) Next() (json.RawMessage, error) {
	if d.err != nil {
		return nil, d.err
	}
	doc, err := d.next()
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("invalid JSON near byte %d: %w", d.in.offset(), err)
		}
		d.err = err
		return nil, err
	}
	d.index++
	return doc, nil
}

var errUnexpectedEOF = errors.New("unexpected end of input")

func (d *Decoder) next() (json.RawMessage, error) {
	for {
		if d.queued != nil {
			doc := d.queued
			d.queued = nil
			return doc, nil
		}
		if len(d.stack) == 0 {
			c, err := d.in.peek()
			if err == io.EOF {
				return nil, io.EOF
			}
			if err != nil {
				return nil, err
			}
			switch c {
			case '[':
				d.in.skip()
				d.stack = append(d.stack, frame{array: true, first: true})
			case '{':
				d.in.skip()
				d.stack = append(d.stack, frame{first: true})
			default:
				return nil, fmt.Errorf("expected a JSON object or array, found %q", c)
			}
			continue
		}
		top := &d.stack[len(d.stack)-1]
		if top.array {
			doc, done, err := d.element(top)
			if err != nil || doc != nil {
				return doc, err
			}
			if done {
				d.stack = d.stack[:len(d.stack)-1]
				if top.table {
					d.columns = nil
					if err := d.skipMembers(); err != nil { // rest of {"columns":…,"rows":…}
						return nil, err
					}
				}
			}
			continue
		}
		if err := d.member(top); err != nil {
			return nil, err
		}
	}
}

// element reads the next element of an array, or its end.
func (d *Decoder) element(f *frame) ([]byte, bool, error) {
	c, err := d.in.peek()
	if err != nil {
		return nil, false, eof(err)
	}
	if c == ']' {
		d.in.skip()
		return nil, true, nil
	}
	if !f.first {
		if c != ',' {
			return nil, false, fmt.Errorf("expected ',' or ']' in an array, found %q", c)
		}
		d.in.skip()
	}
	f.first = false
	v, err := d.in.value()
	if err != nil {
		return nil, false, err
	}
	if f.table {
		doc, err := tableRow(d.columns, v)
		return doc, false, err
	}
	return v, false, nil
}

// member reads one member of a top-level object, entering a document array
// under "value" or "data", or finishes the object.
func (d *Decoder) member(f *frame) error {
	c, err := d.in.peek()
	if err != nil {
		return eof(err)
	}
	if c == '}' {
		d.in.skip()
		d.stack = d.stack[:len(d.stack)-1]
		if !f.hadArray {
			d.queued = f.fields.marshal()
		}
		return nil
	}
	if !f.first {
		if c != ',' {
			return fmt.Errorf("expected ',' or '}' in an object, found %q", c)
		}
		d.in.skip()
	}
	f.first = false
	key, err := d.in.key()
	if err != nil {
		return err
	}
	if key == "value" || key == "data" {
		c, err := d.in.peek()
		if err != nil {
			return eof(err)
		}
		if c == '[' {
			d.in.skip()
			f.hadArray = true
			d.stack = append(d.stack, frame{array: true, first: true})
			return nil
		}
		if c == '{' && key == "data" {
			return d.dataObject(f)
		}
	}
	v, err := d.in.value()
	if err != nil {
		return err
	}
	f.fields = append(f.fields, field{key, v})
	return nil
}

// dataObject reads the object under "data": Resource Graph's table format
// {"columns":[…],"rows":[…]} when it starts with columns, else a member of
// a document that happens to be named data.
func (d *Decoder) dataObject(f *frame) error {
	d.in.skip() // '{'
	c, err := d.in.peek()
	if err != nil {
		return eof(err)
	}
	if c == '}' {
		d.in.skip()
		f.fields = append(f.fields, field{"data", []byte("{}")})
		return nil
	}
	key, err := d.in.key()
	if err != nil {
		return err
	}
	if key != "columns" {
		// Rebuild the member from its parts.
		inner := object{}
		for first := true; ; first = false {
			if !first {
				if key, err = d.in.key(); err != nil {
					return err
				}
			}
			v, err := d.in.value()
			if err != nil {
				return err
			}
			inner = append(inner, field{key, v})
			c, err := d.in.peek()
			if err != nil {
				return eof(err)
			}
			d.in.skip()
			if c == '}' {
				break
			}
			if c != ',' {
				return fmt.Errorf("expected ',' or '}' in an object, found %q", c)
			}
		}
		f.fields = append(f.fields, field{"data", inner.marshal()})
		return nil
	}
	v, err := d.in.value()
	if err != nil {
		return err
	}
	var cols []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(v, &cols); err != nil {
		return fmt.Errorf("table result: \"columns\" is not an array of {name, type}")
	}
	d.columns = make([]string, len(cols))
	for i, col := range cols {
		d.columns[i] = col.Name
	}
	for {
		c, err := d.in.peek()
		if err != nil {
			return eof(err)
		}
		if c != ',' {
			return fmt.Errorf("table result without \"rows\"")
		}
		d.in.skip()
		key, err := d.in.key()
		if err != nil {
			return err
		}
		if key == "rows" {
			if c, err := d.in.peek(); err != nil || c != '[' {
				return fmt.Errorf("table result: \"rows\" must be an array")
			}
			d.in.skip()
			f.hadArray = true
			d.stack = append(d.stack, frame{array: true, table: true, first: true})
			return nil
		}
		if _, err := d.in.value(); err != nil {
			return err
		}
	}
}

// skipMembers consumes the members left in an object after a value and its
// closing '}'.
func (d *Decoder) skipMembers() error {
	for {
		c, err := d.in.peek()
		if err != nil {
			return eof(err)
		}
		d.in.skip()
		if c == '}' {
			return nil
		}
		if c != ',' {
			return fmt.Errorf("expected ',' or '}' in an object, found %q", c)
		}
		if _, err := d.in.key(); err != nil {
			return err
		}
		if _, err := d.in.value(); err != nil {
			return err
		}
	}
}

func eof(err error) error {
	if err == io.EOF {
		return errUnexpectedEOF
	}
	return err
}

// tableRow turns a table-format row into an object with the column names.
func tableRow(columns []string, raw []byte) ([]byte, error) {
	var cells []json.RawMessage
	if err := json.Unmarshal(raw, &cells); err != nil {
		return nil, fmt.Errorf("table result: a row is not an array")
	}
	if len(cells) != len(columns) {
		return nil, fmt.Errorf("table result: a row has %d cells for %d columns", len(cells), len(columns))
	}
	o := make(object, len(cells))
	for i, c := range cells {
		o[i] = field{columns[i], c}
	}
	return o.marshal(), nil
}
