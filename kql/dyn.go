package kql

import (
	"encoding/binary"
	"math"
	"sort"

	"github.com/posture/posture/jsonw"
)

// Dyn is a KQL dynamic value held in posture's compact binary encoding. Table
// documents are decoded from JSON once, into this form; a path access such as
// properties.status.code walks the bytes without allocating and returns a
// sub-slice. The encoding of one value is a tag byte followed by:
//
//	tagNull, tagFalse, tagTrue  nothing
//	tagInt                      zig-zag varint
//	tagReal                     8 bytes, IEEE 754 little endian
//	tagDictStr                  uvarint code in dict
//	tagStr                      uvarint length, UTF-8 bytes
//	tagArray                    uint32 byte length of the elements, elements
//	tagObject                   uint32 byte length, then key/value pairs; a key
//	                            is uvarint code<<1 (interned) or length<<1|1
//	                            followed by the bytes
//	tagDatetime, tagTimespan    8 bytes, ticks little endian
//	tagShared                   uvarint code in dict of an array's or
//	                            object's encoding, held there once
//
// Containers carry their byte length so lookups skip siblings in O(1).
type Dyn struct {
	b    []byte
	dict *Dict
}

const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagReal
	tagDictStr
	tagStr
	tagArray
	tagObject
	tagDatetime
	tagTimespan
	tagShared
)

// dynKind is the shape of a dynamic value.
type dynKind uint8

const (
	dynNull dynKind = iota
	dynBool
	dynLong
	dynReal
	dynString
	dynArray
	dynObject
	dynDatetime
	dynTimespan
)

func (d Dyn) kind() dynKind {
	if len(d.b) == 0 {
		return dynNull
	}
	switch d.b[0] {
	case tagFalse, tagTrue:
		return dynBool
	case tagInt:
		return dynLong
	case tagReal:
		return dynReal
	case tagDictStr, tagStr:
		return dynString
	case tagArray:
		return dynArray
	case tagObject:
		return dynObject
	case tagDatetime:
		return dynDatetime
	case tagTimespan:
		return dynTimespan
	}
	return dynNull
}

// skipValue returns the offset just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case tagNull, tagFalse, tagTrue:
		return i + 1
	case tagInt, tagDictStr, tagShared:
		_, n := binary.Uvarint(b[i+1:])
		return i + 1 + n
	case tagReal, tagDatetime, tagTimespan:
		return i + 9
	case tagStr:
		l, n := binary.Uvarint(b[i+1:])
		return i + 1 + n + int(l)
	case tagArray, tagObject:
		return i + 5 + int(binary.LittleEndian.Uint32(b[i+1:]))
	}
	panic("kql: corrupt dynamic encoding")
}

// valueAt returns the Dyn for the value starting at b[i].
func (d Dyn) valueAt(i int) Dyn { return d.at(i, skipValue(d.b, i)) }

// at returns the value at b[i:end], a shared container read from the
// dictionary. Every value taken out of a container or a row goes through
// it, so that nothing else sees tagShared.
func (d Dyn) at(i, end int) Dyn {
	if d.b[i] != tagShared {
		return Dyn{b: d.b[i:end], dict: d.dict}
	}
	c, _ := binary.Uvarint(d.b[i+1:])
	return Dyn{b: d.dict.bytes(uint32(c)), dict: d.dict}
}

// str returns the string of a dynString value.
func (d Dyn) str() string {
	if d.b[0] == tagDictStr {
		c, _ := binary.Uvarint(d.b[1:])
		return d.dict.Get(uint32(c))
	}
	l, n := binary.Uvarint(d.b[1:])
	return string(d.b[1+n : 1+n+int(l)])
}

// strCode returns the dictionary code of an interned string value.
func (d Dyn) strCode() (uint32, bool) {
	if len(d.b) > 0 && d.b[0] == tagDictStr {
		c, _ := binary.Uvarint(d.b[1:])
		return uint32(c), true
	}
	return 0, false
}

func (d Dyn) int() int64 {
	u, _ := binary.Uvarint(d.b[1:])
	return int64(u>>1) ^ -int64(u&1)
}

func (d Dyn) fixed() uint64 { return binary.LittleEndian.Uint64(d.b[1:]) }

// keyAt decodes the object key at b[i]; it returns the end of the key and
// either the interned code (inline=false) or the key bytes.
func keyAt(b []byte, i int) (end int, code uint32, inline []byte, isInline bool) {
	u, n := binary.Uvarint(b[i:])
	if u&1 == 0 {
		return i + n, uint32(u >> 1), nil, false
	}
	l := int(u >> 1)
	return i + n + l, 0, b[i+n : i+n+l], true
}

// memberKey is an object key prepared for repeated lookups: the string and,
// once known, its code in one dictionary.
type memberKey struct {
	name    string
	dict    *Dict
	code    uint32
	codeSet bool // code is valid for dict
	absent  bool // dict has no such string, so no interned key matches
}

func (k *memberKey) prepare(d *Dict) {
	if k.dict == d {
		return
	}
	k.dict = d
	if d == nil {
		k.codeSet, k.absent = false, true
		return
	}
	c, ok := d.Lookup(k.name)
	k.code, k.codeSet, k.absent = c, ok, !ok
}

// member returns the value of key in an object, or an empty Dyn (null).
func (d Dyn) member(k *memberKey) Dyn {
	if len(d.b) == 0 || d.b[0] != tagObject {
		return Dyn{}
	}
	k.prepare(d.dict)
	end := 5 + int(binary.LittleEndian.Uint32(d.b[1:]))
	for i := 5; i < end; {
		ke, code, inl, isInline := keyAt(d.b, i)
		ve := skipValue(d.b, ke)
		if isInline {
			if string(inl) == k.name {
				return d.at(ke, ve)
			}
		} else if k.codeSet && code == k.code {
			return d.at(ke, ve)
		}
		i = ve
	}
	return Dyn{}
}

// memberString looks a key up without a prepared key (slower; used by
// functions with non-constant keys).
func (d Dyn) memberString(name string) Dyn {
	k := memberKey{name: name}
	return d.member(&k)
}

// each calls f for every element of an array or every value of an object
// (with its key); it stops when f returns false.
func (d Dyn) each(f func(key string, v Dyn) bool) {
	if len(d.b) == 0 || (d.b[0] != tagArray && d.b[0] != tagObject) {
		return
	}
	end := 5 + int(binary.LittleEndian.Uint32(d.b[1:]))
	obj := d.b[0] == tagObject
	for i := 5; i < end; {
		var key string
		if obj {
			ke, code, inl, isInline := keyAt(d.b, i)
			if isInline {
				key = string(inl)
			} else {
				key = d.dict.Get(code)
			}
			i = ke
		}
		ve := skipValue(d.b, i)
		if !f(key, d.at(i, ve)) {
			return
		}
		i = ve
	}
}

// length returns the number of elements (arrays) or keys (objects).
func (d Dyn) length() int {
	n := 0
	d.each(func(string, Dyn) bool { n++; return true })
	return n
}

// index returns element i of an array (negative counts from the end).
func (d Dyn) index(i int) Dyn {
	if d.kind() != dynArray {
		return Dyn{}
	}
	if i < 0 {
		i += d.length()
		if i < 0 {
			return Dyn{}
		}
	}
	var out Dyn
	n := 0
	d.each(func(_ string, v Dyn) bool {
		if n == i {
			out = v
			return false
		}
		n++
		return true
	})
	return out
}

// scalar converts a dynamic primitive to a typed Value; arrays and objects
// stay dynamic.
func (d Dyn) scalar() Value {
	switch d.kind() {
	case dynNull:
		return nullValue
	case dynBool:
		return boolValue(d.b[0] == tagTrue)
	case dynLong:
		return longValue(d.int())
	case dynReal:
		return realValue(math.Float64frombits(d.fixed()))
	case dynString:
		return stringValue(d.str())
	case dynDatetime:
		return datetimeValue(int64(d.fixed()))
	case dynTimespan:
		return timespanValue(int64(d.fixed()))
	}
	return Value{T: TypeDynamic, d: d}
}

// dynValue wraps a Dyn as a Value, marking null.
func dynValue(d Dyn) Value {
	if len(d.b) == 0 || d.b[0] == tagNull {
		return nullValue
	}
	return Value{T: TypeDynamic, d: d}
}

// Interface converts the value to plain Go values (see Value.Interface).
func (d Dyn) Interface() any {
	switch d.kind() {
	case dynArray:
		out := []any{}
		d.each(func(_ string, v Dyn) bool { out = append(out, v.Interface()); return true })
		return out
	case dynObject:
		out := map[string]any{}
		d.each(func(k string, v Dyn) bool { out[k] = v.Interface(); return true })
		return out
	case dynNull:
		return nil
	}
	return d.scalar().Interface()
}

// equalDyn compares two dynamic values structurally (object key order
// ignored), which is how posture compares bags and arrays.
func equalDyn(a, b Dyn) bool {
	ka, kb := a.kind(), b.kind()
	if ka != kb {
		if (ka == dynLong || ka == dynReal) && (kb == dynLong || kb == dynReal) {
			return a.scalar().asFloat() == b.scalar().asFloat()
		}
		return false
	}
	switch ka {
	case dynNull:
		return true
	case dynString:
		if ca, ok := a.strCode(); ok && a.dict == b.dict {
			if cb, ok := b.strCode(); ok {
				return ca == cb
			}
		}
		return a.str() == b.str()
	case dynArray:
		if a.length() != b.length() {
			return false
		}
		var bs []Dyn
		b.each(func(_ string, v Dyn) bool { bs = append(bs, v); return true })
		i, eq := 0, true
		a.each(func(_ string, v Dyn) bool { eq = equalDyn(v, bs[i]); i++; return eq })
		return eq
	case dynObject:
		if a.length() != b.length() {
			return false
		}
		eq := true
		a.each(func(k string, v Dyn) bool {
			eq = equalDyn(v, b.memberString(k))
			return eq
		})
		return eq
	}
	return string(a.b) == string(b.b)
}

// appendJSON writes the value as JSON.
func (d Dyn) appendJSON(buf []byte) []byte {
	switch d.kind() {
	case dynNull:
		return append(buf, "null"...)
	case dynArray:
		buf = append(buf, '[')
		first := true
		d.each(func(_ string, v Dyn) bool {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = v.appendJSON(buf)
			return true
		})
		return append(buf, ']')
	case dynObject:
		buf = append(buf, '{')
		first := true
		d.each(func(k string, v Dyn) bool {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = jsonw.AppendString(buf, k)
			buf = append(buf, ':')
			buf = v.appendJSON(buf)
			return true
		})
		return append(buf, '}')
	}
	return appendValueJSON(buf, d.scalar())
}

// sortedKeys returns an object's keys in ascending order (bag_keys,
// deterministic serialisation in tests).
func (d Dyn) sortedKeys() []string {
	var keys []string
	d.each(func(k string, _ Dyn) bool { keys = append(keys, k); return true })
	sort.Strings(keys)
	return keys
}

// dynBuilder encodes dynamic values. With intern set, strings and keys are
// interned in dict (table loading); otherwise strings are inline (values built
// while a query runs never grow the dictionary).
type dynBuilder struct {
	buf    []byte
	dict   *Dict
	intern bool
	// share, when set, is the depth from which arrays and objects of
	// minShared bytes or more go to the dictionary, the value holding
	// their code (tagShared): set by decodeRow, so that what many rows
	// repeat inside a column (an assessment's metadata and status, a
	// resource's encryption settings) is stored once.
	share int
}

// minShared is the size from which a nested container is shared: below
// it, the code and the dictionary's entry save too little.
const minShared = 16

func (e *dynBuilder) null() { e.buf = append(e.buf, tagNull) }
func (e *dynBuilder) bool(b bool) {
	if b {
		e.buf = append(e.buf, tagTrue)
	} else {
		e.buf = append(e.buf, tagFalse)
	}
}
func (e *dynBuilder) int(n int64) {
	e.buf = append(e.buf, tagInt)
	e.buf = binary.AppendUvarint(e.buf, uint64(n<<1)^uint64(n>>63))
}
func (e *dynBuilder) real(f float64) {
	e.buf = append(e.buf, tagReal)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(f))
}
func (e *dynBuilder) fixed(tag byte, n int64) {
	e.buf = append(e.buf, tag)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(n))
}
func (e *dynBuilder) str(s string) {
	if e.intern {
		e.buf = append(e.buf, tagDictStr)
		e.buf = binary.AppendUvarint(e.buf, uint64(e.dict.Intern(s)))
		return
	}
	e.buf = append(e.buf, tagStr)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *dynBuilder) strBytes(s []byte) {
	if e.intern {
		e.buf = append(e.buf, tagDictStr)
		e.buf = binary.AppendUvarint(e.buf, uint64(e.dict.InternBytes(s)))
		return
	}
	e.buf = append(e.buf, tagStr)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *dynBuilder) key(s string) {
	if e.intern {
		e.buf = binary.AppendUvarint(e.buf, uint64(e.dict.Intern(s))<<1)
		return
	}
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s))<<1|1)
	e.buf = append(e.buf, s...)
}
func (e *dynBuilder) keyBytes(s []byte) {
	if e.intern {
		e.buf = binary.AppendUvarint(e.buf, uint64(e.dict.InternBytes(s))<<1)
		return
	}
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s))<<1|1)
	e.buf = append(e.buf, s...)
}

// begin opens an array or object and returns the position to pass to end.
func (e *dynBuilder) begin(tag byte) int {
	e.buf = append(e.buf, tag, 0, 0, 0, 0)
	return len(e.buf)
}
func (e *dynBuilder) end(start int) {
	guardSize(len(e.buf))
	binary.LittleEndian.PutUint32(e.buf[start-4:], uint32(len(e.buf)-start))
}

// endAt is end for a container at depth (the outermost is 1), sharing it
// when share says so. Equal containers have equal bytes, so they share
// one code.
func (e *dynBuilder) endAt(start, depth int) {
	e.end(start)
	if e.share == 0 || depth < e.share || len(e.buf)-start+5 < minShared || e.dict == nil {
		return
	}
	c := e.dict.InternBytes(e.buf[start-5:])
	e.buf = binary.AppendUvarint(append(e.buf[:start-5], tagShared), uint64(c))
}

// maxValueBytes bounds one string or dynamic value built by a query, so
// that doubling tricks (pack_array(x, x) over and over, replace_string with
// a long replacement) fail cleanly instead of exhausting memory.
const maxValueBytes = 16 << 20

func guardSize(n int) {
	if n > maxValueBytes {
		panic(newError(CodePayloadTooLarge, "a value built by the query is larger than %d bytes", maxValueBytes))
	}
}

// dyn appends an existing dynamic value. Bytes are copied as they are when
// both use the same dictionary; otherwise the value is re-encoded.
func (e *dynBuilder) dyn(d Dyn) {
	if len(d.b) == 0 {
		e.null()
		return
	}
	if !e.intern && (d.dict == nil || e.dict == nil || e.dict == d.dict) {
		if d.dict != nil {
			e.dict = d.dict
		}
		e.buf = append(e.buf, d.b...)
		return
	}
	switch d.kind() {
	case dynString:
		e.str(d.str())
	case dynArray:
		p := e.begin(tagArray)
		d.each(func(_ string, v Dyn) bool { e.dyn(v); return true })
		e.end(p)
	case dynObject:
		p := e.begin(tagObject)
		d.each(func(k string, v Dyn) bool { e.key(k); e.dyn(v); return true })
		e.end(p)
	default:
		e.buf = append(e.buf, d.b...)
	}
}

// value appends a typed scalar (or dynamic) value.
func (e *dynBuilder) value(v Value) {
	if v.Null {
		e.null()
		return
	}
	switch v.T {
	case TypeBool:
		e.bool(v.n != 0)
	case TypeInt, TypeLong:
		e.int(v.n)
	case TypeReal, TypeDecimal:
		e.real(v.Float())
	case TypeString, TypeGuid:
		e.str(v.s)
	case TypeDateTime:
		e.fixed(tagDatetime, v.n)
	case TypeTimespan:
		e.fixed(tagTimespan, v.n)
	case TypeDynamic:
		e.dyn(v.d)
	default:
		e.null()
	}
}

func (e *dynBuilder) done() Dyn {
	return Dyn{b: e.buf, dict: e.dict}
}

// newArray builds a dynamic array from values.
func newArray(vals []Value) Value {
	var e dynBuilder
	p := e.begin(tagArray)
	for _, v := range vals {
		e.value(v)
	}
	e.end(p)
	return Value{T: TypeDynamic, d: e.done()}
}

// dynFromString makes a dynamic string.
func dynFromString(s string) Dyn {
	var e dynBuilder
	e.str(s)
	return e.done()
}
