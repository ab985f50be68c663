package policy

import (
	"math"
	"strings"
	"unicode/utf8"
)

// Array and object functions (ARM template-functions-array and -object).

func init() {
	register("array", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		if arr, ok := a[0].([]any); ok {
			return arr, nil
		}
		return []any{a[0]}, nil
	})
	register("createArray", 0, -1, true, func(_ *evalCtx, a []any) (any, error) {
		out := make([]any, len(a))
		copy(out, a)
		return out, nil
	})
	register("createObject", 0, -1, true, func(_ *evalCtx, a []any) (any, error) {
		if len(a)%2 != 0 {
			return nil, evalErrorf("createObject: takes key/value pairs, got an odd number of arguments")
		}
		out := make(map[string]any, len(a)/2)
		for i := 0; i < len(a); i += 2 {
			k, ok := a[i].(string)
			if !ok {
				return nil, evalErrorf("createObject: key %d must be a string", i/2+1)
			}
			out[k] = a[i+1]
		}
		return out, nil
	})
	register("concat", 0, -1, true, fnConcat)
	register("contains", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		return templateContains(a[0], a[1])
	})
	register("empty", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		return isEmptyValue(a[0]), nil
	})
	register("first", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		switch x := a[0].(type) {
		case []any:
			if len(x) == 0 {
				return nil, nil
			}
			return x[0], nil
		case string:
			if x == "" {
				return "", nil
			}
			r, _ := utf8.DecodeRuneInString(x)
			return string(r), nil
		}
		return nil, evalErrorf("first: argument must be an array or a string, got %s", typeName(a[0]))
	})
	register("last", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		switch x := a[0].(type) {
		case []any:
			if len(x) == 0 {
				return nil, nil
			}
			return x[len(x)-1], nil
		case string:
			if x == "" {
				return "", nil
			}
			r, _ := utf8.DecodeLastRuneInString(x)
			return string(r), nil
		}
		return nil, evalErrorf("last: argument must be an array or a string, got %s", typeName(a[0]))
	})
	register("length", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		switch x := a[0].(type) {
		case []any:
			return float64(len(x)), nil
		case string:
			return float64(utf8.RuneCountInString(x)), nil
		case map[string]any:
			return float64(len(x)), nil
		}
		return nil, evalErrorf("length: argument must be an array, a string or an object, got %s", typeName(a[0]))
	})
	register("indexOf", 2, 2, true, func(_ *evalCtx, a []any) (any, error) { return fnIndexOf(a, false) })
	register("lastIndexOf", 2, 2, true, func(_ *evalCtx, a []any) (any, error) { return fnIndexOf(a, true) })
	register("skip", 2, 2, true, func(_ *evalCtx, a []any) (any, error) { return fnTakeSkip("skip", a, false) })
	register("take", 2, 2, true, func(_ *evalCtx, a []any) (any, error) { return fnTakeSkip("take", a, true) })
	register("union", 1, -1, true, fnUnion)
	register("intersection", 1, -1, true, fnIntersection)
	register("items", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		m, ok := a[0].(map[string]any)
		if !ok {
			return nil, evalErrorf("items: argument must be an object, got %s", typeName(a[0]))
		}
		keys := sortedKeys(m)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = map[string]any{"key": k, "value": m[k]}
		}
		return out, nil
	})
	register("objectKeys", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		m, ok := a[0].(map[string]any)
		if !ok {
			return nil, evalErrorf("objectKeys: argument must be an object, got %s", typeName(a[0]))
		}
		keys := sortedKeys(m)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	})
	register("tryGet", 2, -1, true, func(_ *evalCtx, a []any) (any, error) {
		v := a[0]
		for _, k := range a[1:] {
			switch x := v.(type) {
			case map[string]any:
				s, ok := k.(string)
				if !ok {
					return nil, nil
				}
				v, _ = getKey(x, s)
			case []any:
				f, ok := k.(float64)
				if !ok || f < 0 || int(f) >= len(x) {
					return nil, nil
				}
				v = x[int(f)]
			default:
				return nil, nil
			}
		}
		return v, nil
	})
	register("json", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("json", a, 0)
		if err != nil {
			return nil, err
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, evalErrorf("json: %v", err)
		}
		return v, nil
	})
	register("null", 0, 0, true, func(*evalCtx, []any) (any, error) { return nil, nil })
	register("range", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		start, err := argInt("range", a, 0)
		if err != nil {
			return nil, err
		}
		n, err := argInt("range", a, 1)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > 10000 {
			return nil, evalErrorf("range: count %d is out of range", n)
		}
		out := make([]any, n)
		for i := range out {
			out[i] = float64(start + i)
		}
		return out, nil
	})
	register("min", 1, -1, true, func(_ *evalCtx, a []any) (any, error) { return fnMinMax("min", a, -1) })
	register("max", 1, -1, true, func(_ *evalCtx, a []any) (any, error) { return fnMinMax("max", a, 1) })
	register("join", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		arr, err := argArray("join", a, 0)
		if err != nil {
			return nil, err
		}
		sep, err := argString("join", a, 1)
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(arr))
		for i, e := range arr {
			s, ok := scalarString(e)
			if !ok {
				return nil, evalErrorf("join: element %d is not a scalar", i+1)
			}
			parts[i] = s
		}
		return strings.Join(parts, sep), nil
	})
	register("flatten", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		arr, err := argArray("flatten", a, 0)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, e := range arr {
			if inner, ok := e.([]any); ok {
				out = append(out, inner...)
			} else {
				return nil, evalErrorf("flatten: every element must be an array")
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	})
}

func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func fnConcat(_ *evalCtx, a []any) (any, error) {
	if len(a) == 0 {
		return "", nil
	}
	if _, ok := a[0].([]any); ok {
		var out []any
		for i, e := range a {
			arr, ok := e.([]any)
			if !ok {
				if e == nil {
					continue
				}
				return nil, evalErrorf("concat: argument %d must be an array like the first, got %s", i+1, typeName(e))
			}
			out = append(out, arr...)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	var b strings.Builder
	for i, e := range a {
		s, ok := scalarString(e)
		if !ok {
			return nil, evalErrorf("concat: argument %d is a %s; strings and arrays cannot be mixed", i+1, typeName(e))
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// templateContains is ARM's contains(): substring (case-sensitive), array
// membership, or object key (case-insensitive).
func templateContains(container, item any) (any, error) {
	switch x := container.(type) {
	case string:
		s, ok := scalarString(item)
		if !ok {
			return false, nil
		}
		return strings.Contains(x, s), nil
	case []any:
		for _, e := range x {
			if templateEquals(e, item) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		s, ok := item.(string)
		if !ok {
			return false, nil
		}
		_, found := getKey(x, s)
		return found, nil
	case nil:
		return false, nil
	}
	return nil, evalErrorf("contains: argument 1 must be a string, an array or an object, got %s", typeName(container))
}

func fnIndexOf(a []any, last bool) (any, error) {
	switch x := a[0].(type) {
	case string:
		t, ok := a[1].(string)
		if !ok {
			return nil, evalErrorf("indexOf: argument 2 must be a string, got %s", typeName(a[1]))
		}
		ls, lt := strings.ToLower(x), strings.ToLower(t)
		var i int
		if last {
			i = strings.LastIndex(ls, lt)
		} else {
			i = strings.Index(ls, lt)
		}
		if i < 0 {
			return float64(-1), nil
		}
		return float64(utf8.RuneCountInString(x[:i])), nil
	case []any:
		idx := -1
		for i, e := range x {
			if templateEquals(e, a[1]) {
				idx = i
				if !last {
					break
				}
			}
		}
		return float64(idx), nil
	}
	return nil, evalErrorf("indexOf: argument 1 must be a string or an array, got %s", typeName(a[0]))
}

func fnTakeSkip(fn string, a []any, take bool) (any, error) {
	n, err := argInt(fn, a, 1)
	if err != nil {
		return nil, err
	}
	switch x := a[0].(type) {
	case []any:
		n = max(0, min(n, len(x)))
		if take {
			return append([]any{}, x[:n]...), nil
		}
		return append([]any{}, x[n:]...), nil
	case string:
		r := []rune(x)
		n = max(0, min(n, len(r)))
		if take {
			return string(r[:n]), nil
		}
		return string(r[n:]), nil
	}
	return nil, evalErrorf("%s: argument 1 must be an array or a string, got %s", fn, typeName(a[0]))
}

func fnUnion(c *evalCtx, a []any) (any, error) {
	switch a[0].(type) {
	case []any:
		if err := spendQuadratic(c, a); err != nil {
			return nil, err
		}
		var out []any
		for i, e := range a {
			arr, ok := e.([]any)
			if !ok {
				return nil, evalErrorf("union: argument %d must be an array", i+1)
			}
			for _, v := range arr {
				if !containsValue(out, v) {
					out = append(out, v)
				}
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for i, e := range a {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, evalErrorf("union: argument %d must be an object", i+1)
			}
			for k, v := range m {
				out[k] = v
			}
		}
		return out, nil
	}
	return nil, evalErrorf("union: arguments must be arrays or objects, got %s", typeName(a[0]))
}

func fnIntersection(c *evalCtx, a []any) (any, error) {
	switch first := a[0].(type) {
	case []any:
		if err := spendQuadratic(c, a); err != nil {
			return nil, err
		}
		out := []any{}
		for _, v := range first {
			inAll := true
			for i, e := range a[1:] {
				arr, ok := e.([]any)
				if !ok {
					return nil, evalErrorf("intersection: argument %d must be an array", i+2)
				}
				if !containsValue(arr, v) {
					inAll = false
					break
				}
			}
			if inAll && !containsValue(out, v) {
				out = append(out, v)
			}
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k, v := range first {
			inAll := true
			for i, e := range a[1:] {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, evalErrorf("intersection: argument %d must be an object", i+2)
				}
				w, found := m[k]
				if !found || !templateEquals(v, w) {
					inAll = false
					break
				}
			}
			if inAll {
				out[k] = v
			}
		}
		return out, nil
	}
	return nil, evalErrorf("intersection: arguments must be arrays or objects, got %s", typeName(a[0]))
}

// spendQuadratic charges the evaluation budget for the pairwise
// comparisons union and intersection make over arrays.
func spendQuadratic(c *evalCtx, arrays []any) error {
	if c == nil {
		return nil
	}
	n := 0
	for _, a := range arrays {
		if arr, ok := a.([]any); ok {
			n += len(arr)
		}
	}
	return c.spend(n * n / 2)
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if templateEquals(e, v) {
			return true
		}
	}
	return false
}

func fnMinMax(fn string, a []any, sign int) (any, error) {
	vals := a
	if len(a) == 1 {
		if arr, ok := a[0].([]any); ok {
			vals = arr
		}
	}
	if len(vals) == 0 {
		return nil, evalErrorf("%s: needs at least one value", fn)
	}
	best := math.NaN()
	for i, v := range vals {
		f, ok := v.(float64)
		if !ok {
			return nil, evalErrorf("%s: value %d must be an integer, got %s", fn, i+1, typeName(v))
		}
		if math.IsNaN(best) || (sign < 0 && f < best) || (sign > 0 && f > best) {
			best = f
		}
	}
	return best, nil
}
