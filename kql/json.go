package kql

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/posture/posture/jsonw"
)

// JSON decoding straight into the dynamic encoding, and JSON writing. A
// hand-written scanner is used because rows are decoded once at load time
// and encoding/json's generic decoding would dominate loading a large estate.

var errJSONSyntax = errors.New("invalid JSON")

// jsonDecoder parses JSON text into a dynBuilder.
type jsonDecoder struct {
	data    []byte
	i       int
	out     *dynBuilder
	scratch []byte
	depth   int
}

// maxJSONDepth bounds nesting as encoding/json does (10,000): every
// document the API accepts (json.Valid) must load into the tables, or a
// write that was acknowledged would be missing from Resource Graph.
const maxJSONDepth = 10000

func (p *jsonDecoder) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// decodeJSONValue parses one complete JSON value (trailing spaces allowed).
func decodeJSONValue(data []byte, out *dynBuilder) error {
	p := jsonDecoder{data: data, out: out}
	if err := p.value(); err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.data) {
		return errJSONSyntax
	}
	return nil
}

func (p *jsonDecoder) value() error {
	p.ws()
	if p.i >= len(p.data) {
		return errJSONSyntax
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		if err != nil {
			return err
		}
		p.out.strBytes(s)
		return nil
	case c == 't':
		return p.literal("true", func() { p.out.bool(true) })
	case c == 'f':
		return p.literal("false", func() { p.out.bool(false) })
	case c == 'n':
		return p.literal("null", p.out.null)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return errJSONSyntax
}

func (p *jsonDecoder) literal(word string, emit func()) error {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return errJSONSyntax
	}
	p.i += len(word)
	emit()
	return nil
}

func (p *jsonDecoder) object() error {
	if p.depth++; p.depth > maxJSONDepth {
		return errJSONSyntax
	}
	defer func() { p.depth-- }()
	p.i++
	start := p.out.begin(tagObject)
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		p.out.endAt(start, p.depth)
		return nil
	}
	for {
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return errJSONSyntax
		}
		k, err := p.string()
		if err != nil {
			return err
		}
		p.out.keyBytes(k)
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return errJSONSyntax
		}
		p.i++
		if err := p.value(); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.data) {
			return errJSONSyntax
		}
		if p.data[p.i] == ',' {
			p.i++
			continue
		}
		if p.data[p.i] == '}' {
			p.i++
			p.out.endAt(start, p.depth)
			return nil
		}
		return errJSONSyntax
	}
}

func (p *jsonDecoder) array() error {
	if p.depth++; p.depth > maxJSONDepth {
		return errJSONSyntax
	}
	defer func() { p.depth-- }()
	p.i++
	start := p.out.begin(tagArray)
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		p.out.endAt(start, p.depth)
		return nil
	}
	for {
		if err := p.value(); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.data) {
			return errJSONSyntax
		}
		if p.data[p.i] == ',' {
			p.i++
			continue
		}
		if p.data[p.i] == ']' {
			p.i++
			p.out.endAt(start, p.depth)
			return nil
		}
		return errJSONSyntax
	}
}

// string returns the decoded string at p.i (which is '"'). The result may
// alias p.data or p.scratch and is valid until the next call.
func (p *jsonDecoder) string() ([]byte, error) {
	p.i++
	start := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		if c == '"' {
			s := p.data[start:p.i]
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, errJSONSyntax
		}
		p.i++
	}
	// Slow path with escapes.
	buf := append(p.scratch[:0], p.data[start:p.i]...)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			p.scratch = buf
			return buf, nil
		case c == '\\':
			if p.i+1 >= len(p.data) {
				return nil, errJSONSyntax
			}
			e := p.data[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return nil, errJSONSyntax
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
						p.i += 2
						r2, ok = p.hex4()
						if !ok {
							return nil, errJSONSyntax
						}
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, errJSONSyntax
			}
		case c < 0x20:
			return nil, errJSONSyntax
		default:
			buf = append(buf, c)
			p.i++
		}
	}
	return nil, errJSONSyntax
}

func (p *jsonDecoder) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		return 0, false
	}
	v, ok := parseHex(string(p.data[p.i : p.i+4]))
	p.i += 4
	return rune(v), ok
}

func (p *jsonDecoder) number() error {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.data) && isDigit(p.data[p.i]) {
		p.i++
	}
	if p.i == digits {
		return errJSONSyntax
	}
	isReal := false
	if p.i < len(p.data) && p.data[p.i] == '.' {
		isReal = true
		p.i++
		d := p.i
		for p.i < len(p.data) && isDigit(p.data[p.i]) {
			p.i++
		}
		if p.i == d {
			return errJSONSyntax
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		isReal = true
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		d := p.i
		for p.i < len(p.data) && isDigit(p.data[p.i]) {
			p.i++
		}
		if p.i == d {
			return errJSONSyntax
		}
	}
	text := p.data[start:p.i]
	if !isReal && len(text) <= 18 {
		var n int64
		neg := text[0] == '-'
		for _, c := range text {
			if c != '-' {
				n = n*10 + int64(c-'0')
			}
		}
		if neg {
			n = -n
		}
		p.out.int(n)
		return nil
	}
	if !isReal {
		if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			p.out.int(n)
			return nil
		}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return errJSONSyntax
	}
	p.out.real(f)
	return nil
}

// parseDynamicJSON parses text as JSON into an un-interned dynamic value.
func parseDynamicJSON(text string) (Dyn, bool) {
	var b dynBuilder
	if err := decodeJSONValue([]byte(text), &b); err != nil {
		return Dyn{}, false
	}
	return b.done(), true
}

// appendValueJSON writes a Value as JSON the way ARG renders cells.
func appendValueJSON(buf []byte, v Value) []byte {
	if v.Null {
		return append(buf, "null"...)
	}
	switch v.T {
	case TypeBool:
		if v.n != 0 {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case TypeInt, TypeLong:
		return strconv.AppendInt(buf, v.n, 10)
	case TypeReal, TypeDecimal:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(buf, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(buf, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(buf, `"-Infinity"`...)
		}
		return appendReal(buf, f)
	case TypeString, TypeGuid:
		return jsonw.AppendString(buf, v.s)
	case TypeDateTime:
		return jsonw.AppendString(buf, formatDatetimeISO(v.n))
	case TypeTimespan:
		return jsonw.AppendString(buf, formatTimespan(v.n))
	case TypeDynamic:
		return v.d.appendJSON(buf)
	}
	return append(buf, "null"...)
}

// appendReal writes a finite real so that it reads back as a real: an
// integral value keeps a ".0" (as Kusto prints reals).
func appendReal(buf []byte, f float64) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, 64)
	for _, c := range buf[start:] {
		if c == '.' || c == 'e' || c == 'E' || c == 'N' || c == 'I' {
			return buf
		}
	}
	return append(buf, '.', '0')
}
