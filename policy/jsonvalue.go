package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Values are the decoded JSON types: nil, bool, float64, string, []any and
// map[string]any. Documents are shared between definitions and goroutines, so
// nothing in the engine mutates a value it did not create.

// decodeJSON decodes data into the generic value model.
func decodeJSON(data []byte) (any, error) { return parseJSON(data) }

// getKey returns m[key], matching the key case-insensitively when there is no
// exact match. ARM property names are case-insensitive, and so are the keys of
// policy rules (built-ins spell "existencecondition", "anyof", "notin").
func getKey(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// getKeyName is getKey that also returns the key as spelled in m.
func getKeyName(m map[string]any, key string) (string, any, bool) {
	if v, ok := m[key]; ok {
		return key, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return k, v, true
		}
	}
	return "", nil, false
}

func getString(m map[string]any, key string) string {
	v, _ := getKey(m, key)
	s, _ := v.(string)
	return s
}

func getObject(m map[string]any, key string) map[string]any {
	v, _ := getKey(m, key)
	o, _ := v.(map[string]any)
	return o
}

// sortedKeys returns the keys of m in a stable order for deterministic
// iteration (error lists, reasons).
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// typeName names the JSON type of v the way ARM error messages do.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case float64:
		return "Integer"
	case string:
		return "String"
	case []any:
		return "Array"
	case map[string]any:
		return "Object"
	}
	return fmt.Sprintf("%T", v)
}

// formatNumber renders a number the way .NET prints JSON numbers: integers
// without a fraction.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// scalarString converts a scalar to the string Azure Policy compares it as
// (it converts value types to strings on the fly, see docs/policy-semantics.md).
// ok is false for arrays and objects.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case float64:
		return formatNumber(x), true
	case nil:
		return "", true
	}
	return "", false
}

// toJSONString renders a value as compact JSON, used by string() for arrays and
// objects and in reasons.
func toJSONString(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// deepEqualFold compares two values: strings case-insensitively, scalars of
// different types through their string forms, arrays element-wise and objects
// key-wise (keys case-insensitive).
func deepEqualFold(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqualFold(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := getKey(y, k)
			if !ok || !deepEqualFold(v, w) {
				return false
			}
		}
		return true
	}
	switch b.(type) {
	case []any, map[string]any:
		return false
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if fa, ok := a.(float64); ok {
		if fb, ok := b.(float64); ok {
			return fa == fb
		}
	}
	sa, _ := scalarString(a)
	sb, _ := scalarString(b)
	return strings.EqualFold(sa, sb)
}

// deepCopy copies arrays and objects so that a function result can be changed
// without touching a shared document.
func deepCopy(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = deepCopy(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	}
	return v
}

// countNodes counts the nodes of a value, stopping once limit is passed. Used
// to enforce Azure's evaluation limits on function results.
func countNodes(v any, limit int) int {
	n := 1
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			n += countNodes(e, limit-n)
			if n > limit {
				return n
			}
		}
	case map[string]any:
		for _, e := range x {
			n += countNodes(e, limit-n)
			if n > limit {
				return n
			}
		}
	}
	return n
}
