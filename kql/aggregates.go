package kql

import (
	"math"
	"sort"
	"strconv"
)

// Aggregate functions for summarize. Nulls are ignored; on an empty group
// count/countif/dcount/dcountif/sum/sumif give 0, make_* give [] and the
// rest null (kql.md §2).

type aggState interface {
	add(r *row)
	result() Value
}

type aggSpec struct {
	min, max int
	prefix   string // result name prefix: sum → sum_x
	typ      func(args []compiledExpr) Type
	factory  func(c *compiler, call *CallExpr, args []compiledExpr) func() aggState
}

var aggregates map[string]*aggSpec

func init() {
	aggregates = map[string]*aggSpec{
		"count":       {min: 0, max: 1, prefix: "count", typ: fixedT(TypeLong), factory: countAgg(false)},
		"countif":     {min: 1, max: 1, prefix: "countif", typ: fixedT(TypeLong), factory: countAgg(true)},
		"dcount":      {min: 1, max: 2, prefix: "dcount", typ: fixedT(TypeLong), factory: dcountAgg(false)},
		"dcountif":    {min: 2, max: 3, prefix: "dcountif", typ: fixedT(TypeLong), factory: dcountAgg(true)},
		"sum":         {min: 1, max: 1, prefix: "sum", typ: sumType, factory: sumAgg(false)},
		"sumif":       {min: 2, max: 2, prefix: "sumif", typ: sumType, factory: sumAgg(true)},
		"avg":         {min: 1, max: 1, prefix: "avg", typ: fixedT(TypeReal), factory: avgAgg(false)},
		"avgif":       {min: 2, max: 2, prefix: "avgif", typ: fixedT(TypeReal), factory: avgAgg(true)},
		"min":         {min: 1, max: 1, prefix: "min", typ: firstArgType, factory: extremeAgg(-1, false)},
		"max":         {min: 1, max: 1, prefix: "max", typ: firstArgType, factory: extremeAgg(1, false)},
		"minif":       {min: 2, max: 2, prefix: "minif", typ: firstArgType, factory: extremeAgg(-1, true)},
		"maxif":       {min: 2, max: 2, prefix: "maxif", typ: firstArgType, factory: extremeAgg(1, true)},
		"any":         {min: 1, max: 1, prefix: "any", typ: firstArgType, factory: anyAgg},
		"take_any":    {min: 1, max: 1, prefix: "", typ: firstArgType, factory: anyAgg},
		"make_set":    {min: 1, max: 2, prefix: "set", typ: fixedT(TypeDynamic), factory: listAgg(true, false)},
		"make_set_if": {min: 2, max: 3, prefix: "set", typ: fixedT(TypeDynamic), factory: listAgg(true, true)},
		"make_list":   {min: 1, max: 2, prefix: "list", typ: fixedT(TypeDynamic), factory: listAgg(false, false)},
		"make_list_if": {min: 2, max: 3, prefix: "list", typ: fixedT(TypeDynamic),
			factory: listAgg(false, true)},
		"make_bag":    {min: 1, max: 2, prefix: "bag", typ: fixedT(TypeDynamic), factory: bagAgg(false)},
		"make_bag_if": {min: 2, max: 3, prefix: "bag", typ: fixedT(TypeDynamic), factory: bagAgg(true)},
		"buildschema": {min: 1, max: 1, prefix: "schema", typ: fixedT(TypeDynamic), factory: schemaAgg},
		"percentile":  {min: 2, max: 2, prefix: "percentile", typ: firstArgType, factory: percentileAgg},
		"stdev":       {min: 1, max: 1, prefix: "stdev", typ: fixedT(TypeReal), factory: varianceAgg(true)},
		"variance":    {min: 1, max: 1, prefix: "variance", typ: fixedT(TypeReal), factory: varianceAgg(false)},
	}
	aggregates["arg_max"] = &aggSpec{min: 1, max: -1}
	aggregates["arg_min"] = &aggSpec{min: 1, max: -1}
	aggregates["makeset"] = aggregates["make_set"]
	aggregates["makelist"] = aggregates["make_list"]
}

func fixedT(t Type) func([]compiledExpr) Type { return func([]compiledExpr) Type { return t } }

func sumType(a []compiledExpr) Type {
	switch a[0].typ {
	case TypeInt, TypeLong, TypeBool:
		return TypeLong
	case TypeTimespan:
		return TypeTimespan
	}
	return TypeReal
}

// predicate helper: an "if" aggregate's condition.
func condTrue(g getter, r *row) bool {
	b, ok := truth(g(r))
	return ok && b
}

type countState struct {
	n    int64
	cond getter
}

func (s *countState) add(r *row) {
	if s.cond == nil || condTrue(s.cond, r) {
		s.n++
	}
}
func (s *countState) result() Value { return longValue(s.n) }

func countAgg(withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
		var cond getter
		if withCond {
			cond = args[0].fn
		} else if len(args) == 1 {
			// count(x): posture counts rows where x is not null (Kusto
			// accepts the argument; ARG samples use count(resourceId)).
			x := args[0].fn
			cond = func(r *row) Value { return boolValue(!x(r).Null) }
		}
		return func() aggState { return &countState{cond: cond} }
	}
}

type dcountState struct {
	x, cond getter
	seen    map[string]struct{}
}

func (s *dcountState) add(r *row) {
	if s.cond != nil && !condTrue(s.cond, r) {
		return
	}
	v := s.x(r)
	if v.Null {
		return
	}
	s.seen[dynKey(v)] = struct{}{}
}
func (s *dcountState) result() Value { return longValue(int64(len(s.seen))) }

// dcountAgg counts exactly (a legal choice: Kusto's estimate is exact for
// small cardinalities and our data sizes are small).
func dcountAgg(withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		var cond getter
		if withCond {
			cond = args[1].fn
		}
		return func() aggState { return &dcountState{x: x, cond: cond, seen: map[string]struct{}{}} }
	}
}

type sumState struct {
	x, cond getter
	typ     Type
	i       int64
	f       float64
}

func (s *sumState) add(r *row) {
	if s.cond != nil && !condTrue(s.cond, r) {
		return
	}
	v := scalarOf(s.x(r))
	if v.Null {
		return
	}
	switch s.typ {
	case TypeLong, TypeTimespan:
		if n, ok := toLong(v); ok {
			s.i += n
		}
	default:
		if f, ok := toReal(v); ok {
			s.f += f
		}
	}
}

func (s *sumState) result() Value {
	switch s.typ {
	case TypeLong:
		return longValue(s.i)
	case TypeTimespan:
		return timespanValue(s.i)
	}
	return realValue(s.f)
}

func sumAgg(withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(c *compiler, call *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		typ := sumType(args)
		if args[0].typ == TypeString {
			c.errorf(call.P, CodeInvalidQuery, "%s() cannot sum strings", call.Name)
		}
		var cond getter
		if withCond {
			cond = args[1].fn
		}
		return func() aggState { return &sumState{x: x, cond: cond, typ: typ} }
	}
}

type avgState struct {
	x, cond getter
	sum     float64
	n       int64
}

func (s *avgState) add(r *row) {
	if s.cond != nil && !condTrue(s.cond, r) {
		return
	}
	if f, ok := toReal(s.x(r)); ok {
		s.sum += f
		s.n++
	}
}
func (s *avgState) result() Value {
	if s.n == 0 {
		return nullOf(TypeReal)
	}
	return realValue(s.sum / float64(s.n))
}

func avgAgg(withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		var cond getter
		if withCond {
			cond = args[1].fn
		}
		return func() aggState { return &avgState{x: x, cond: cond} }
	}
}

type extremeState struct {
	x, cond getter
	sign    int
	best    Value
	found   bool
	typ     Type
}

func (s *extremeState) add(r *row) {
	if s.cond != nil && !condTrue(s.cond, r) {
		return
	}
	v := s.x(r)
	if v.Null || (v.T == TypeString && v.s == "") && s.typ != TypeString {
		return
	}
	if !s.found {
		s.best, s.found = v, true
		return
	}
	if c, ok := compareValues(v, s.best); ok && c*s.sign > 0 {
		s.best = v
	}
}
func (s *extremeState) result() Value {
	if !s.found {
		return nullOf(s.typ)
	}
	return s.best
}

func extremeAgg(sign int, withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		typ := args[0].typ
		var cond getter
		if withCond {
			cond = args[1].fn
		}
		return func() aggState { return &extremeState{x: x, cond: cond, sign: sign, typ: typ} }
	}
}

type anyState struct {
	x     getter
	v     Value
	found bool
	typ   Type
}

// take_any keeps the first non-null value (Kusto picks an arbitrary one).
func (s *anyState) add(r *row) {
	if s.found {
		return
	}
	v := s.x(r)
	if v.Null {
		return
	}
	s.v, s.found = v, true
}
func (s *anyState) result() Value {
	if !s.found {
		return nullOf(s.typ)
	}
	return s.v
}

func anyAgg(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
	x, typ := args[0].fn, args[0].typ
	return func() aggState { return &anyState{x: x, typ: typ} }
}

const maxListSize = 1_048_576

type listState struct {
	x, cond getter
	set     bool
	limit   int
	vals    []Value
	seen    map[string]bool
}

func (s *listState) add(r *row) {
	if len(s.vals) >= s.limit {
		return
	}
	if s.cond != nil && !condTrue(s.cond, r) {
		return
	}
	v := s.x(r)
	if v.Null {
		return
	}
	// make_set/make_list flatten nothing; a dynamic array value is one
	// element.
	if s.set {
		k := dynKey(v)
		if s.seen[k] {
			return
		}
		s.seen[k] = true
	}
	s.vals = append(s.vals, v)
}
func (s *listState) result() Value { return newArray(s.vals) }

func listAgg(set, withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(c *compiler, call *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		var cond getter
		limitIdx := 1
		if withCond {
			cond = args[1].fn
			limitIdx = 2
		}
		limit := maxListSize
		if len(args) > limitIdx {
			if args[limitIdx].konst == nil {
				c.errorf(call.P, CodeInvalidQuery, "%s(): the size limit must be a constant", call.Name)
			}
			if n, ok := toLong(*args[limitIdx].konst); ok && n > 0 && n < maxListSize {
				limit = int(n)
			}
		}
		return func() aggState {
			s := &listState{x: x, cond: cond, set: set, limit: limit}
			if set {
				s.seen = map[string]bool{}
			}
			return s
		}
	}
}

type bagState struct {
	x, cond getter
	keys    []string
	vals    map[string]Dyn
}

func (s *bagState) add(r *row) {
	if s.cond != nil && !condTrue(s.cond, r) {
		return
	}
	v := s.x(r)
	if v.T != TypeDynamic || v.Null || v.d.kind() != dynObject {
		return
	}
	v.d.each(func(k string, val Dyn) bool {
		if _, ok := s.vals[k]; !ok && len(s.keys) < maxListSize {
			s.keys = append(s.keys, k)
			s.vals[k] = val
		}
		return true
	})
}

func (s *bagState) result() Value {
	var b dynBuilder
	p := b.begin(tagObject)
	for _, k := range s.keys {
		b.key(k)
		b.dyn(s.vals[k])
	}
	b.end(p)
	return dynValue(b.done())
}

func bagAgg(withCond bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		var cond getter
		if withCond {
			cond = args[1].fn
		}
		return func() aggState { return &bagState{x: x, cond: cond, vals: map[string]Dyn{}} }
	}
}

// buildschema: the union of the value's shape, with type names at leaves.
type schemaState struct {
	x    getter
	tree *schemaNode
}

type schemaNode struct {
	types map[string]bool
	keys  []string
	kids  map[string]*schemaNode
	elem  *schemaNode
}

func (n *schemaNode) merge(d Dyn) {
	switch d.kind() {
	case dynObject:
		if n.kids == nil {
			n.kids = map[string]*schemaNode{}
		}
		d.each(func(k string, v Dyn) bool {
			kid := n.kids[k]
			if kid == nil {
				kid = &schemaNode{}
				n.kids[k] = kid
				n.keys = append(n.keys, k)
			}
			kid.merge(v)
			return true
		})
	case dynArray:
		if n.elem == nil {
			n.elem = &schemaNode{}
		}
		d.each(func(_ string, v Dyn) bool { n.elem.merge(v); return true })
	case dynNull:
	default:
		if n.types == nil {
			n.types = map[string]bool{}
		}
		n.types[getType(d.scalar())] = true
	}
}

func (n *schemaNode) build(b *dynBuilder) {
	switch {
	case n.kids != nil:
		p := b.begin(tagObject)
		keys := append([]string(nil), n.keys...)
		sort.Strings(keys)
		for _, k := range keys {
			b.key(k)
			n.kids[k].build(b)
		}
		b.end(p)
	case n.elem != nil:
		p := b.begin(tagObject)
		b.key("indexer")
		n.elem.build(b)
		b.end(p)
	case len(n.types) == 1:
		for t := range n.types {
			b.str(t)
		}
	case len(n.types) > 1:
		var ts []string
		for t := range n.types {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		p := b.begin(tagArray)
		for _, t := range ts {
			b.str(t)
		}
		b.end(p)
	default:
		b.null()
	}
}

func (s *schemaState) add(r *row) {
	v := s.x(r)
	if v.Null {
		return
	}
	s.tree.merge(dynOf(v))
}
func (s *schemaState) result() Value {
	var b dynBuilder
	s.tree.build(&b)
	return dynValue(b.done())
}

func schemaAgg(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
	x := args[0].fn
	return func() aggState { return &schemaState{x: x, tree: &schemaNode{}} }
}

// percentile uses nearest-rank on the exact values (Kusto estimates).
type percentileState struct {
	x    getter
	p    float64
	vals []Value
	typ  Type
}

func (s *percentileState) add(r *row) {
	v := scalarOf(s.x(r))
	if !v.Null {
		s.vals = append(s.vals, v)
	}
}
func (s *percentileState) result() Value {
	if len(s.vals) == 0 {
		return nullOf(s.typ)
	}
	sort.SliceStable(s.vals, func(i, j int) bool { c, _ := compareValues(s.vals[i], s.vals[j]); return c < 0 })
	rank := int(math.Ceil(s.p/100*float64(len(s.vals)))) - 1
	rank = max(0, min(rank, len(s.vals)-1))
	return s.vals[rank]
}

func percentileAgg(c *compiler, call *CallExpr, args []compiledExpr) func() aggState {
	if args[1].konst == nil {
		c.errorf(call.P, CodeInvalidQuery, "percentile(): the percentile must be a constant")
	}
	p, ok := toReal(*args[1].konst)
	if !ok || p < 0 || p > 100 {
		c.errorf(call.P, CodeInvalidQuery, "percentile(): the percentile must be between 0 and 100")
	}
	x, typ := args[0].fn, args[0].typ
	return func() aggState { return &percentileState{x: x, p: p, typ: typ} }
}

type varianceState struct {
	x        getter
	stdev    bool
	n        float64
	mean, m2 float64
}

func (s *varianceState) add(r *row) {
	f, ok := toReal(s.x(r))
	if !ok {
		return
	}
	s.n++
	d := f - s.mean
	s.mean += d / s.n
	s.m2 += d * (f - s.mean)
}
func (s *varianceState) result() Value {
	if s.n < 2 {
		return realValue(0)
	}
	v := s.m2 / (s.n - 1)
	if s.stdev {
		return realValue(math.Sqrt(v))
	}
	return realValue(v)
}

func varianceAgg(stdev bool) func(*compiler, *CallExpr, []compiledExpr) func() aggState {
	return func(_ *compiler, _ *CallExpr, args []compiledExpr) func() aggState {
		x := args[0].fn
		return func() aggState { return &varianceState{x: x, stdev: stdev} }
	}
}

// aggResultName is the column name of an unnamed aggregate.
func aggResultName(name string, spec *aggSpec, args []Expr) string {
	arg := ""
	if len(args) > 0 {
		arg = inferName(args[0])
	}
	switch name {
	case "take_any":
		if arg != "" {
			return arg
		}
		return "any_"
	case "percentile":
		p := ""
		if len(args) > 1 {
			if lit, ok := args[1].(*Literal); ok {
				p = toStringValue(lit.Val)
				if f, err := strconv.ParseFloat(p, 64); err == nil {
					p = strconv.FormatFloat(f, 'f', -1, 64)
				}
			}
		}
		return "percentile_" + arg + "_" + p
	}
	return spec.prefix + "_" + arg
}
