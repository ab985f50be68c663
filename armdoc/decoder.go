package armdoc

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
// never sits in memory whole. A syntax error ends the stream: JSON cannot be
// resynchronised after one.
type Decoder struct {
	dec     *json.Decoder
	inArray bool     // reading the elements of a document array
	wrapper *wrapper // reading the members of a top-level object
	columns []string // table format: the column names of rows
	queued  []byte   // a document ready to return
	index   int      // documents returned so far
	err     error    // sticky error
}

// wrapper is a top-level object being read: a list wrapper if one of its
// members is a document array, else a document.
type wrapper struct {
	fields   object
	hadArray bool
}

// NewDecoder returns a Decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return &Decoder{dec: dec}
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
			err = fmt.Errorf("invalid JSON near byte %d: %w", d.dec.InputOffset(), err)
		}
		d.err = err
		return nil, err
	}
	d.index++
	return doc, nil
}

func (d *Decoder) next() (json.RawMessage, error) {
	for {
		switch {
		case d.queued != nil:
			doc := d.queued
			d.queued = nil
			return doc, nil
		case d.inArray:
			if d.dec.More() {
				var raw json.RawMessage
				if err := d.dec.Decode(&raw); err != nil {
					return nil, err
				}
				if d.columns != nil {
					return tableRow(d.columns, raw)
				}
				return raw, nil
			}
			if _, err := d.dec.Token(); err != nil { // ']'
				return nil, err
			}
			d.inArray = false
			if d.columns != nil {
				// Finish the {"columns":…,"rows":…} object.
				if err := d.skipRest(); err != nil {
					return nil, err
				}
				d.columns = nil
			}
		case d.wrapper != nil:
			if err := d.readWrapperMember(); err != nil {
				return nil, err
			}
		default:
			tok, err := d.dec.Token()
			if err != nil {
				return nil, err
			}
			switch tok {
			case json.Delim('['):
				d.inArray = true
			case json.Delim('{'):
				d.wrapper = &wrapper{}
			default:
				return nil, fmt.Errorf("expected a JSON object or array, found %v", tok)
			}
		}
	}
}

// readWrapperMember reads one member of a top-level object, entering a
// document array under "value" or "data", or finishes the object.
func (d *Decoder) readWrapperMember() error {
	w := d.wrapper
	if !d.dec.More() {
		if _, err := d.dec.Token(); err != nil { // '}'
			return err
		}
		d.wrapper = nil
		if !w.hadArray {
			d.queued = w.fields.marshal()
		}
		return nil
	}
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	key, _ := tok.(string)
	if key != "value" && key != "data" {
		var raw json.RawMessage
		if err := d.dec.Decode(&raw); err != nil {
			return err
		}
		w.fields = append(w.fields, field{key, raw})
		return nil
	}
	first, err := d.dec.Token()
	if err != nil {
		return err
	}
	switch {
	case first == json.Delim('['):
		w.hadArray = true
		d.inArray = true
	case first == json.Delim('{') && key == "data":
		// Resource Graph's table format starts {"columns":…; anything else
		// is a document's own member named data.
		var inner json.Token = json.Delim('}')
		if d.dec.More() {
			if inner, err = d.dec.Token(); err != nil {
				return err
			}
		}
		if inner == "columns" {
			if err := d.readTableColumns(); err != nil {
				return err
			}
			w.hadArray = true
			d.inArray = true
			return nil
		}
		raw, err := d.rebuildObject(inner)
		if err != nil {
			return err
		}
		w.fields = append(w.fields, field{key, raw})
	default:
		// A document with a member named value or data: keep it.
		raw, err := d.rebuild(first)
		if err != nil {
			return err
		}
		w.fields = append(w.fields, field{key, raw})
	}
	return nil
}

// readTableColumns reads the rest of {"columns":[…],"rows": up to the rows
// array's '[', the "columns" key having been read.
func (d *Decoder) readTableColumns() error {
	for tok := json.Token("columns"); ; {
		switch tok {
		case "columns":
			var cols []struct {
				Name string `json:"name"`
			}
			if err := d.dec.Decode(&cols); err != nil {
				return err
			}
			d.columns = make([]string, len(cols))
			for i, c := range cols {
				d.columns[i] = c.Name
			}
		case "rows":
			if d.columns == nil {
				return fmt.Errorf("table result: \"columns\" must come before \"rows\"")
			}
			if tok, err := d.dec.Token(); err != nil || tok != json.Delim('[') {
				return fmt.Errorf("table result: \"rows\" must be an array")
			}
			return nil
		default:
			var skip json.RawMessage
			if err := d.dec.Decode(&skip); err != nil {
				return err
			}
		}
		if !d.dec.More() {
			return fmt.Errorf("table result without \"rows\"")
		}
		var err error
		if tok, err = d.dec.Token(); err != nil {
			return err
		}
	}
}

// skipRest consumes the members left in the current object and its '}'.
func (d *Decoder) skipRest() error {
	for d.dec.More() {
		if _, err := d.dec.Token(); err != nil {
			return err
		}
		var skip json.RawMessage
		if err := d.dec.Decode(&skip); err != nil {
			return err
		}
	}
	_, err := d.dec.Token()
	return err
}

// rebuildObject re-encodes an object whose '{' and first token (a key, or
// the closing '}') have been read.
func (d *Decoder) rebuildObject(first json.Token) (json.RawMessage, error) {
	var b strings.Builder
	b.WriteByte('{')
	for tok := first; tok != json.Delim('}'); {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(tok)
		b.Write(k)
		b.WriteByte(':')
		v, err := d.dec.Token()
		if err != nil {
			return nil, err
		}
		if err := d.rebuildInto(&b, v); err != nil {
			return nil, err
		}
		if tok, err = d.dec.Token(); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return json.RawMessage(b.String()), nil
}

// rebuild re-encodes the value starting with tok from the token stream.
func (d *Decoder) rebuild(tok json.Token) (json.RawMessage, error) {
	var b strings.Builder
	if err := d.rebuildInto(&b, tok); err != nil {
		return nil, err
	}
	return json.RawMessage(b.String()), nil
}

func (d *Decoder) rebuildInto(b *strings.Builder, tok json.Token) error {
	switch tok {
	case json.Delim('{'), json.Delim('['):
		b.WriteString(tok.(json.Delim).String())
		for i := 0; d.dec.More(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			next, err := d.dec.Token()
			if err != nil {
				return err
			}
			if tok == json.Delim('{') {
				k, _ := json.Marshal(next)
				b.Write(k)
				b.WriteByte(':')
				if next, err = d.dec.Token(); err != nil {
					return err
				}
			}
			if err := d.rebuildInto(b, next); err != nil {
				return err
			}
		}
		end, err := d.dec.Token()
		if err != nil {
			return err
		}
		b.WriteString(end.(json.Delim).String())
		return nil
	}
	v, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	b.Write(v)
	return nil
}

// tableRow turns a table-format row into an object with the column names.
func tableRow(columns []string, raw json.RawMessage) (json.RawMessage, error) {
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
