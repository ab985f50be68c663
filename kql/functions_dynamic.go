package kql

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
)

// dynOf returns the Dyn of a value, wrapping scalars.
func dynOf(v Value) Dyn {
	if v.T == TypeDynamic {
		if v.Null {
			return Dyn{}
		}
		return v.d
	}
	return toDynamic(v).d
}

func arrayElems(v Value) ([]Value, bool) {
	if v.T != TypeDynamic || v.Null || v.d.kind() != dynArray {
		return nil, false
	}
	var out []Value
	v.d.each(func(_ string, el Dyn) bool { out = append(out, dynValue(el)); return true })
	return out, true
}

// dynKey is a value's identity for sets (make_set, set_union, distinct).
func dynKey(v Value) string {
	v = scalarOf(v)
	if v.Null {
		return "\x00null"
	}
	switch v.T {
	case TypeDynamic:
		return "d" + string(v.d.appendJSON(nil))
	case TypeString, TypeGuid:
		return "s" + v.s
	case TypeReal, TypeDecimal:
		f := v.Float()
		if f == float64(int64(f)) {
			return fmt.Sprintf("n%d", int64(f))
		}
		return fmt.Sprintf("r%v", f)
	case TypeInt, TypeLong:
		return fmt.Sprintf("n%d", v.n)
	}
	return fmt.Sprintf("%d:%d", v.T, v.n)
}

func registerDynamicFunctions() {
	reg("array_length", &fnSpec{min: 1, max: 1, typ: TypeLong, e1: func(a Value) Value {
		if a.T != TypeDynamic || a.Null || a.d.kind() != dynArray {
			return nullOf(TypeLong)
		}
		return longValue(int64(a.d.length()))
	}})
	sortFn := func(desc bool) func(a []Value) Value {
		return func(a []Value) Value {
			els, ok := arrayElems(a[0])
			if !ok {
				return nullValue
			}
			nullsLast := !desc
			if len(a) > 1 {
				if b, ok := toBool(a[1]); ok {
					nullsLast = b
				}
			}
			sort.SliceStable(els, func(i, j int) bool {
				x, y := scalarOf(els[i]), scalarOf(els[j])
				if x.Null != y.Null {
					return y.Null == nullsLast
				}
				c, ok := compareValues(x, y)
				if !ok {
					return false
				}
				if desc {
					return c > 0
				}
				return c < 0
			})
			return newArray(els)
		}
	}
	reg("array_sort_asc", &fnSpec{min: 1, max: 2, typ: TypeDynamic, en: sortFn(false)})
	reg("array_sort_desc", &fnSpec{min: 1, max: 2, typ: TypeDynamic, en: sortFn(true)})
	reg("array_reverse", &fnSpec{min: 1, max: 1, typ: TypeDynamic, e1: func(a Value) Value {
		els, ok := arrayElems(a)
		if !ok {
			return nullValue
		}
		for i, j := 0, len(els)-1; i < j; i, j = i+1, j-1 {
			els[i], els[j] = els[j], els[i]
		}
		return newArray(els)
	}})
	reg("array_concat", &fnSpec{min: 1, max: 64, typ: TypeDynamic, en: func(a []Value) Value {
		var out []Value
		for _, v := range a {
			els, ok := arrayElems(v)
			if !ok {
				return nullValue
			}
			out = append(out, els...)
		}
		return newArray(out)
	}})
	reg("array_slice", &fnSpec{min: 3, max: 3, typ: TypeDynamic, e3: func(a, s, e Value) Value {
		els, ok := arrayElems(a)
		if !ok {
			return nullValue
		}
		start, ok1 := toLong(s)
		end, ok2 := toLong(e)
		if !ok1 || !ok2 {
			return nullValue
		}
		n := int64(len(els))
		if start < 0 {
			start += n
		}
		if end < 0 {
			end += n
		}
		start = max(start, 0)
		end = min(end, n-1)
		if start > end {
			return newArray(nil)
		}
		return newArray(els[start : end+1])
	}})
	reg("array_index_of", &fnSpec{min: 2, max: 2, typ: TypeLong, e2: func(a, x Value) Value {
		els, ok := arrayElems(a)
		if !ok {
			return nullOf(TypeLong)
		}
		for i, el := range els {
			if eq, ok := equalValues(el, x); ok && eq {
				return longValue(int64(i))
			}
		}
		return longValue(-1)
	}})
	reg("array_sum", &fnSpec{min: 1, max: 1, typ: TypeReal, e1: func(a Value) Value {
		els, ok := arrayElems(a)
		if !ok {
			return nullOf(TypeReal)
		}
		var s float64
		for _, el := range els {
			if f, ok := toReal(el); ok {
				s += f
			}
		}
		return realValue(s)
	}})
	setOp := func(kind string) func(a []Value) Value {
		return func(a []Value) Value {
			var lists [][]Value
			for _, v := range a {
				els, ok := arrayElems(v)
				if !ok {
					return nullValue
				}
				lists = append(lists, els)
			}
			seen := map[string]bool{}
			var out []Value
			switch kind {
			case "union":
				for _, l := range lists {
					for _, el := range l {
						if k := dynKey(el); !seen[k] {
							seen[k] = true
							out = append(out, el)
						}
					}
				}
			case "intersect", "difference":
				others := make([]map[string]bool, len(lists)-1)
				for i, l := range lists[1:] {
					others[i] = map[string]bool{}
					for _, el := range l {
						others[i][dynKey(el)] = true
					}
				}
				for _, el := range lists[0] {
					k := dynKey(el)
					if seen[k] {
						continue
					}
					in := 0
					for _, o := range others {
						if o[k] {
							in++
						}
					}
					if kind == "intersect" && in == len(others) || kind == "difference" && in == 0 {
						seen[k] = true
						out = append(out, el)
					}
				}
			}
			return newArray(out)
		}
	}
	reg("set_union", &fnSpec{min: 2, max: 64, typ: TypeDynamic, en: setOp("union")})
	reg("set_intersect", &fnSpec{min: 2, max: 64, typ: TypeDynamic, en: setOp("intersect")})
	reg("set_difference", &fnSpec{min: 2, max: 64, typ: TypeDynamic, en: setOp("difference")})
	reg("set_has_element", &fnSpec{min: 2, max: 2, typ: TypeBool, e2: func(a, x Value) Value {
		els, ok := arrayElems(a)
		if !ok {
			return nullOf(TypeBool)
		}
		for _, el := range els {
			if eq, ok := equalValues(el, x); ok && eq {
				return boolValue(true)
			}
		}
		return boolValue(false)
	}})
	reg("bag_keys", &fnSpec{min: 1, max: 1, typ: TypeDynamic, e1: func(a Value) Value {
		if a.T != TypeDynamic || a.Null || a.d.kind() != dynObject {
			return nullValue
		}
		var keys []Value
		a.d.each(func(k string, _ Dyn) bool { keys = append(keys, stringValue(k)); return true })
		return newArray(keys)
	}})
	reg("bag_has_key", &fnSpec{min: 2, max: 2, typ: TypeBool, e2: func(a, k Value) Value {
		if a.T != TypeDynamic || a.Null || a.d.kind() != dynObject {
			return boolValue(false)
		}
		return boolValue(len(a.d.memberString(str(k)).b) > 0)
	}})
	reg("bag_remove_keys", &fnSpec{min: 2, max: 2, typ: TypeDynamic, e2: func(a, keys Value) Value {
		if a.T != TypeDynamic || a.Null || a.d.kind() != dynObject {
			return nullValue
		}
		drop := map[string]bool{}
		if els, ok := arrayElems(keys); ok {
			for _, k := range els {
				drop[str(k)] = true
			}
		}
		var b dynBuilder
		p := b.begin(tagObject)
		a.d.each(func(k string, v Dyn) bool {
			if !drop[k] {
				b.key(k)
				b.dyn(v)
			}
			return true
		})
		b.end(p)
		return dynValue(b.done())
	}})
	reg("bag_merge", &fnSpec{min: 1, max: 64, typ: TypeDynamic, en: func(a []Value) Value {
		var b dynBuilder
		p := b.begin(tagObject)
		seen := map[string]bool{}
		for _, v := range a {
			if v.T != TypeDynamic || v.Null || v.d.kind() != dynObject {
				continue
			}
			v.d.each(func(k string, val Dyn) bool {
				if !seen[k] {
					seen[k] = true
					b.key(k)
					b.dyn(val)
				}
				return true
			})
		}
		b.end(p)
		return dynValue(b.done())
	}})
	reg("pack", &fnSpec{min: 0, max: 128, typ: TypeDynamic, en: func(a []Value) Value {
		var b dynBuilder
		p := b.begin(tagObject)
		for i := 0; i+1 < len(a); i += 2 {
			b.key(str(a[i]))
			b.value(a[i+1])
		}
		b.end(p)
		return dynValue(b.done())
	}}, "bag_pack")
	reg("pack_array", &fnSpec{min: 0, max: 128, typ: TypeDynamic, en: func(a []Value) Value { return newArray(a) }})
	reg("zip", &fnSpec{min: 2, max: 16, typ: TypeDynamic, en: func(a []Value) Value {
		var lists [][]Value
		n := 0
		for _, v := range a {
			els, ok := arrayElems(v)
			if !ok {
				return nullValue
			}
			lists = append(lists, els)
			n = max(n, len(els))
		}
		out := make([]Value, n)
		for i := range out {
			row := make([]Value, len(lists))
			for j, l := range lists {
				if i < len(l) {
					row[j] = l[i]
				} else {
					row[j] = nullValue
				}
			}
			out[i] = newArray(row)
		}
		return newArray(out)
	}})
}

// newGUID returns a random version-4 GUID.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var xxPrime1 uint64 = 11400714785074694791

// xxhash64 with seed 0, the algorithm behind Kusto's hash().
func xxhash64(b []byte) uint64 {
	const (
		p1 uint64 = 11400714785074694791
		p2 uint64 = 14029467366897019727
		p3 uint64 = 1609587929392839161
		p4 uint64 = 9650029242287828579
		p5 uint64 = 2870177450012600261
	)
	round := func(acc, in uint64) uint64 {
		acc += in * p2
		acc = bits.RotateLeft64(acc, 31)
		return acc * p1
	}
	merge := func(acc, v uint64) uint64 {
		acc ^= round(0, v)
		return acc*p1 + p4
	}
	n := len(b)
	var h uint64
	if n >= 32 {
		v1, v2, v3, v4 := xxPrime1, p2, uint64(0), -xxPrime1
		v1 += p2
		for len(b) >= 32 {
			v1 = round(v1, binary.LittleEndian.Uint64(b[0:]))
			v2 = round(v2, binary.LittleEndian.Uint64(b[8:]))
			v3 = round(v3, binary.LittleEndian.Uint64(b[16:]))
			v4 = round(v4, binary.LittleEndian.Uint64(b[24:]))
			b = b[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = merge(h, v1)
		h = merge(h, v2)
		h = merge(h, v3)
		h = merge(h, v4)
	} else {
		h = p5
	}
	h += uint64(n)
	for ; len(b) >= 8; b = b[8:] {
		h ^= round(0, binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*p1 + p4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * p1
		h = bits.RotateLeft64(h, 23)*p2 + p3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * p5
		h = bits.RotateLeft64(h, 11) * p1
	}
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	h ^= h >> 32
	return h
}
