package policy

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// String functions (ARM template-functions-string). ARM's startsWith,
// endsWith, indexOf and lastIndexOf compare case-insensitively; contains and
// replace are case-sensitive.

func init() {
	register("toLower", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("toLower", a, 0)
		return strings.ToLower(s), err
	})
	register("toUpper", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("toUpper", a, 0)
		return strings.ToUpper(s), err
	})
	register("trim", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("trim", a, 0)
		return strings.TrimSpace(s), err
	})
	register("startsWith", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		s, t, err := twoStrings("startsWith", a)
		return len(s) >= len(t) && strings.EqualFold(s[:len(t)], t), err
	})
	register("endsWith", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		s, t, err := twoStrings("endsWith", a)
		return len(s) >= len(t) && strings.EqualFold(s[len(s)-len(t):], t), err
	})
	register("replace", 3, 3, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("replace", a, 0)
		if err != nil {
			return nil, err
		}
		old, err := argString("replace", a, 1)
		if err != nil {
			return nil, err
		}
		nw, err := argString("replace", a, 2)
		if err != nil {
			return nil, err
		}
		if old == "" {
			return nil, evalErrorf("replace: the string to replace must not be empty")
		}
		return strings.ReplaceAll(s, old, nw), nil
	})
	register("split", 2, 2, true, fnSplit)
	register("substring", 2, 3, true, fnSubstring)
	register("padLeft", 2, 3, true, fnPadLeft)
	register("format", 1, -1, true, fnFormat)
	register("base64", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("base64", a, 0)
		return base64.StdEncoding.EncodeToString([]byte(s)), err
	})
	register("base64ToString", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("base64ToString", a, 0)
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, evalErrorf("base64ToString: %v", err)
		}
		return string(b), nil
	})
	register("base64ToJson", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("base64ToJson", a, 0)
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, evalErrorf("base64ToJson: %v", err)
		}
		v, err := decodeJSON(b)
		if err != nil {
			return nil, evalErrorf("base64ToJson: %v", err)
		}
		return v, nil
	})
	register("uri", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		base, rel, err := twoStrings("uri", a)
		if err != nil {
			return nil, err
		}
		bu, err := url.Parse(base)
		if err != nil {
			return nil, evalErrorf("uri: %v", err)
		}
		ru, err := url.Parse(rel)
		if err != nil {
			return nil, evalErrorf("uri: %v", err)
		}
		return bu.ResolveReference(ru).String(), nil
	})
	register("uriComponent", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("uriComponent", a, 0)
		return strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), err
	})
	register("uriComponentToString", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("uriComponentToString", a, 0)
		if err != nil {
			return nil, err
		}
		out, err := url.PathUnescape(s)
		if err != nil {
			return nil, evalErrorf("uriComponentToString: %v", err)
		}
		return out, nil
	})
	register("dataUri", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("dataUri", a, 0)
		return "data:text/plain;charset=utf8;base64," + base64.StdEncoding.EncodeToString([]byte(s)), err
	})
	register("dataUriToString", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("dataUriToString", a, 0)
		if err != nil {
			return nil, err
		}
		i := strings.Index(s, ",")
		if !strings.HasPrefix(s, "data:") || i < 0 {
			return nil, evalErrorf("dataUriToString: not a data URI")
		}
		if strings.Contains(s[:i], ";base64") {
			b, err := base64.StdEncoding.DecodeString(s[i+1:])
			if err != nil {
				return nil, evalErrorf("dataUriToString: %v", err)
			}
			return string(b), nil
		}
		out, err := url.PathUnescape(s[i+1:])
		if err != nil {
			return nil, evalErrorf("dataUriToString: %v", err)
		}
		return out, nil
	})
	register("guid", 1, -1, true, fnGUID)
	register("uniqueString", 1, -1, true, fnUniqueString)
}

func twoStrings(fn string, a []any) (string, string, error) {
	s, err := argString(fn, a, 0)
	if err != nil {
		return "", "", err
	}
	t, err := argString(fn, a, 1)
	return s, t, err
}

func fnSplit(_ *evalCtx, a []any) (any, error) {
	s, err := argString("split", a, 0)
	if err != nil {
		return nil, err
	}
	var delims []string
	switch d := a[1].(type) {
	case string:
		delims = []string{d}
	case []any:
		for i, e := range d {
			ds, ok := e.(string)
			if !ok {
				return nil, evalErrorf("split: delimiter %d must be a string", i+1)
			}
			delims = append(delims, ds)
		}
	default:
		return nil, evalErrorf("split: argument 2 must be a string or an array of strings, got %s", typeName(a[1]))
	}
	parts := []string{s}
	for _, d := range delims {
		if d == "" {
			continue
		}
		var next []string
		for _, p := range parts {
			next = append(next, strings.Split(p, d)...)
		}
		parts = next
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func fnSubstring(_ *evalCtx, a []any) (any, error) {
	s, err := argString("substring", a, 0)
	if err != nil {
		return nil, err
	}
	start, err := argInt("substring", a, 1)
	if err != nil {
		return nil, err
	}
	runes := []rune(s)
	length := len(runes) - start
	if len(a) == 3 {
		if length, err = argInt("substring", a, 2); err != nil {
			return nil, err
		}
	}
	if start < 0 || start > len(runes) {
		return nil, evalErrorf("substring: the index parameter %d is out of range for a string of length %d", start, len(runes))
	}
	if length < 0 || start+length > len(runes) {
		return nil, evalErrorf("substring: the length parameter %d is out of range for a string of length %d starting at %d", length, len(runes), start)
	}
	return string(runes[start : start+length]), nil
}

func fnPadLeft(_ *evalCtx, a []any) (any, error) {
	var s string
	switch v := a[0].(type) {
	case string:
		s = v
	case float64:
		s = formatNumber(v)
	default:
		return nil, evalErrorf("padLeft: argument 1 must be a string or an integer, got %s", typeName(a[0]))
	}
	total, err := argInt("padLeft", a, 1)
	if err != nil {
		return nil, err
	}
	if total > maxResultStringLength {
		return nil, evalErrorf("padLeft: total length %d is over the limit", total)
	}
	pad := " "
	if len(a) == 3 {
		if pad, err = argString("padLeft", a, 2); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(pad) != 1 {
			return nil, evalErrorf("padLeft: the padding character must be a single character")
		}
	}
	n := utf8.RuneCountInString(s)
	if n >= total {
		return s, nil
	}
	return strings.Repeat(pad, total-n) + s, nil
}

// fnFormat implements the .NET composite format subset ARM documents:
// "{0}", "{1}", escaped braces "{{" and "}}", and the N/D numeric
// specifiers ("{0:N2}", "{0:D3}").
func fnFormat(_ *evalCtx, a []any) (any, error) {
	f, err := argString("format", a, 0)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '{' && i+1 < len(f) && f[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(f) && f[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return nil, evalErrorf("format: unterminated placeholder")
			}
			spec := f[i+1 : i+end]
			i += end
			idxText, layout, _ := strings.Cut(spec, ":")
			idx, err := strconv.Atoi(strings.TrimSpace(idxText))
			if err != nil || idx < 0 || idx+1 >= len(a) {
				return nil, evalErrorf("format: placeholder {%s} does not name an argument", spec)
			}
			b.WriteString(formatArg(a[idx+1], layout))
		case c == '}':
			return nil, evalErrorf("format: unmatched '}'")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func formatArg(v any, layout string) string {
	if f, ok := v.(float64); ok && layout != "" {
		kind := strings.ToUpper(layout[:1])
		digits, _ := strconv.Atoi(layout[1:])
		// .NET caps precision specifiers; a huge one must not allocate
		// gigabytes.
		digits = max(0, min(digits, 99))
		switch kind {
		case "N", "F":
			s := strconv.FormatFloat(f, 'f', digits, 64)
			if kind == "N" {
				s = groupThousands(s)
			}
			return s
		case "D":
			s := strconv.FormatInt(int64(f), 10)
			for len(s) < digits {
				s = "0" + s
			}
			return s
		}
	}
	if s, ok := scalarString(v); ok {
		return s
	}
	return toJSONString(v)
}

func groupThousands(s string) string {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if hasFrac {
		out += "." + frac
	}
	return out
}
