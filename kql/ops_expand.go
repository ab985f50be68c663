package kql

import (
	"strings"
)

// mv-expand and parse.

func (c *compiler) compileMvExpand(op *MvExpandOp, in *plan) *plan {
	c.mvexpands++
	if c.mvexpands > c.limits.MaxMvExpand {
		c.errorf(op.P, CodeTooManyMvExpand, "the query has more than %d mv-expand operators", c.limits.MaxMvExpand)
	}
	limit := int64(c.limits.MvExpandRowLimit)
	if op.Limit != nil {
		limit = c.constLong(op.Limit, "the mv-expand limit")
		if c.limits.MaxMvExpandLimit > 0 && limit > int64(c.limits.MaxMvExpandLimit) {
			c.errorf(op.Limit.Position(), CodeInvalidQuery, "mv-expand limit %d is above the maximum of %d", limit, c.limits.MaxMvExpandLimit)
		}
	}
	if limit <= 0 {
		limit = 1 << 31
	}
	out := derive(in)
	type item struct {
		fn  getter
		idx int // column index in out
		typ Type
	}
	var items []item
	nv := in.valsWidth
	counter := 0
	for _, it := range op.Items {
		ce := c.compileExpr(it.Expr, in)
		name := it.Name
		if name == "" {
			name = ce.name
		}
		if name == "" {
			name = nextColumnName(func(n string) bool { return out.colIndex(n) >= 0 }, &counter)
		}
		typ := TypeDynamic
		if it.ToType != TypeUnknown {
			typ = it.ToType
		}
		vi := nv + len(items)
		col := Column{Name: name, Type: typ}
		i := out.colIndex(name)
		if i >= 0 {
			out.cols[i] = col
			out.get[i] = valsGetter(vi)
			out.baseCol[i] = -1
		} else {
			i = len(out.cols)
			out.cols = append(out.cols, col)
			out.get = append(out.get, valsGetter(vi))
			out.baseCol = append(out.baseCol, -1)
		}
		items = append(items, item{fn: ce.fn, idx: i, typ: typ})
	}
	indexCol := -1
	if op.ItemIndex != "" {
		indexCol = nv + len(items)
		out.cols = append(out.cols, Column{Name: op.ItemIndex, Type: TypeLong})
		out.get = append(out.get, valsGetter(indexCol))
		out.baseCol = append(out.baseCol, -1)
	}
	width := len(items)
	if indexCol >= 0 {
		width++
	}
	out.valsWidth = nv + width
	bagArray := op.BagExpansion == "array"
	prev := in.open
	out.open = func(st *execState) iterator {
		src := prev(st)
		var pending []row
		cur := new(row)
		return iterFunc(func(out *row) bool {
			for len(pending) == 0 {
				if !src.next(cur) {
					return false
				}
				r := *cur
				// Expand each item into its element list.
				lists := make([][]Value, len(items))
				n := 0
				for k, it := range items {
					v := it.fn(cur)
					var els []Value
					switch {
					case v.Null:
						els = []Value{nullValue}
					case v.T == TypeDynamic && v.d.kind() == dynArray:
						v.d.each(func(_ string, el Dyn) bool {
							els = append(els, dynValue(el))
							return int64(len(els)) < limit
						})
					case v.T == TypeDynamic && v.d.kind() == dynObject:
						v.d.each(func(key string, el Dyn) bool {
							var b dynBuilder
							if bagArray {
								p := b.begin(tagArray)
								b.str(key)
								b.dyn(el)
								b.end(p)
							} else {
								p := b.begin(tagObject)
								b.key(key)
								b.dyn(el)
								b.end(p)
							}
							els = append(els, dynValue(b.done()))
							return int64(len(els)) < limit
						})
					default:
						els = []Value{v}
					}
					lists[k] = els
					n = max(n, len(els))
				}
				for e := 0; e < n; e++ {
					st.check()
					vals := make([]Value, nv+width)
					copy(vals, r.vals)
					for k, it := range items {
						if e < len(lists[k]) {
							vals[nv+k] = convertTo(lists[k][e], it.typ)
						} else {
							vals[nv+k] = nullOf(it.typ)
						}
					}
					if indexCol >= 0 {
						vals[indexCol] = longValue(int64(e))
					}
					pending = append(pending, row{ch: r.ch, i: r.i, vals: vals})
				}
			}
			*out = pending[0]
			pending = pending[1:]
			return true
		})
	}
	return out
}

// iterFunc adapts a function to the iterator interface.
type iterFunc func(r *row) bool

func (f iterFunc) next(r *row) bool { return f(r) }

// compileParse implements parse kind=simple: literals must appear in order;
// a capture takes the text up to the next literal (or the rest); "*"
// skips; typed captures are converted and become null on failure. A row
// that does not match gets empty/null captures (Kusto's behaviour).
func (c *compiler) compileParse(op *ParseOp, in *plan) *plan {
	src := c.compileExpr(op.Source, in)
	out := derive(in)
	nv := in.valsWidth
	type capture struct {
		partIdx int
		typ     Type
	}
	var caps []capture
	for i, part := range op.Pattern {
		if part.IsLit || part.Star {
			continue
		}
		typ := part.Type
		if typ == TypeUnknown {
			typ = TypeString
		}
		vi := nv + len(caps)
		col := Column{Name: part.Name, Type: typ}
		if j := out.colIndex(part.Name); j >= 0 {
			out.cols[j] = col
			out.get[j] = valsGetter(vi)
			out.baseCol[j] = -1
		} else {
			out.cols = append(out.cols, col)
			out.get = append(out.get, valsGetter(vi))
			out.baseCol = append(out.baseCol, -1)
		}
		caps = append(caps, capture{partIdx: i, typ: typ})
	}
	out.valsWidth = nv + len(caps)
	pattern := op.Pattern
	sf := src.fn
	prev := in.open
	out.open = func(st *execState) iterator {
		it := prev(st)
		return iterFunc(func(r *row) bool {
			if !it.next(r) {
				return false
			}
			cur := r
			vals := make([]Value, nv+len(caps))
			copy(vals, r.vals)
			texts, matched := matchParsePattern(pattern, toStringValue(sf(cur)))
			k := 0
			for i, part := range pattern {
				if part.IsLit || part.Star {
					continue
				}
				if matched {
					vals[nv+k] = convertTo(stringValue(texts[i]), caps[k].typ)
				} else {
					vals[nv+k] = nullOf(caps[k].typ)
				}
				k++
			}
			r.vals = vals
			return true
		})
	}
	return out
}

// matchParsePattern returns the text captured by each pattern part.
func matchParsePattern(pattern []ParsePart, s string) ([]string, bool) {
	texts := make([]string, len(pattern))
	pos := 0
	for i := 0; i < len(pattern); i++ {
		part := pattern[i]
		if part.IsLit {
			if !strings.HasPrefix(s[pos:], part.Literal) {
				return nil, false
			}
			pos += len(part.Literal)
			continue
		}
		// A capture or "*": up to the next literal, or the rest.
		next := -1
		for j := i + 1; j < len(pattern); j++ {
			if pattern[j].IsLit {
				next = j
				break
			}
		}
		if next < 0 {
			texts[i] = s[pos:]
			pos = len(s)
			continue
		}
		k := strings.Index(s[pos:], pattern[next].Literal)
		if k < 0 {
			return nil, false
		}
		texts[i] = s[pos : pos+k]
		pos += k
		// Parts between i and next (consecutive captures) get nothing.
		for j := i + 1; j < next; j++ {
			texts[j] = ""
		}
		i = next - 1
	}
	return texts, true
}
