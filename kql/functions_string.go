package kql

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

func str(v Value) string { return toStringValue(v) }

func registerStringFunctions() {
	reg("tolower", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value { return stringValue(strings.ToLower(str(a))) }})
	reg("toupper", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value { return stringValue(strings.ToUpper(str(a))) }})
	reg("strlen", &fnSpec{min: 1, max: 1, typ: TypeLong, e1: func(a Value) Value { return longValue(int64(utf8.RuneCountInString(str(a)))) }})
	reg("reverse", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		r := []rune(str(a))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return stringValue(string(r))
	}})
	reg("strcat", &fnSpec{min: 1, max: 64, typ: TypeString, en: func(a []Value) Value {
		var b strings.Builder
		for _, v := range a {
			b.WriteString(str(v))
			guardSize(b.Len())
		}
		return stringValue(b.String())
	}})
	reg("strcat_delim", &fnSpec{min: 3, max: 65, typ: TypeString, en: func(a []Value) Value {
		parts := make([]string, len(a)-1)
		n := 0
		for i, v := range a[1:] {
			parts[i] = str(v)
			n += len(parts[i]) + len(str(a[0]))
		}
		guardSize(n)
		return stringValue(strings.Join(parts, str(a[0])))
	}})
	reg("strcat_array", &fnSpec{min: 2, max: 2, typ: TypeString, e2: func(arr, delim Value) Value {
		if arr.T != TypeDynamic || arr.Null || arr.d.kind() != dynArray {
			return emptyString
		}
		var parts []string
		n := 0
		arr.d.each(func(_ string, v Dyn) bool {
			parts = append(parts, toStringValue(dynValue(v)))
			n += len(parts[len(parts)-1]) + len(str(delim))
			return true
		})
		guardSize(n)
		return stringValue(strings.Join(parts, str(delim)))
	}})
	reg("strrep", &fnSpec{min: 2, max: 3, typ: TypeString, en: func(a []Value) Value {
		n, ok := toLong(a[1])
		if !ok || n < 0 || n > 1<<16 {
			return emptyString
		}
		delim := ""
		if len(a) > 2 {
			delim = str(a[2])
		}
		s := str(a[0])
		if int64(len(s)+len(delim))*n > 1<<20 {
			return emptyString
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = s
		}
		return stringValue(strings.Join(parts, delim))
	}})
	reg("substring", &fnSpec{min: 2, max: 3, typ: TypeString, en: func(a []Value) Value {
		s := []rune(str(a[0]))
		start, ok := toLong(a[1])
		if !ok {
			return emptyString
		}
		if start < 0 {
			start = 0
		}
		if start > int64(len(s)) {
			return emptyString
		}
		end := int64(len(s))
		if len(a) > 2 {
			n, ok := toLong(a[2])
			if !ok {
				return emptyString
			}
			if n < 0 {
				n = 0
			}
			if start+n < end {
				end = start + n
			}
		}
		return stringValue(string(s[start:end]))
	}})
	reg("indexof", &fnSpec{min: 2, max: 5, typ: TypeLong, en: func(a []Value) Value {
		s, sub := str(a[0]), str(a[1])
		start := int64(0)
		if len(a) > 2 {
			if n, ok := toLong(a[2]); ok {
				start = n
			} else {
				return nullOf(TypeLong)
			}
		}
		rs := []rune(s)
		if start < 0 {
			start += int64(len(rs))
			if start < 0 {
				start = 0
			}
		}
		if start > int64(len(rs)) {
			return nullOf(TypeLong)
		}
		tail := string(rs[start:])
		if len(a) > 3 {
			if n, ok := toLong(a[3]); ok && n >= 0 && int(n) < utf8.RuneCountInString(tail) {
				tail = string([]rune(tail)[:n])
			}
		}
		occurrence := int64(1)
		if len(a) > 4 {
			if n, ok := toLong(a[4]); ok && n > 0 {
				occurrence = n
			}
		}
		pos, from := -1, 0
		for k := int64(0); k < occurrence; k++ {
			i := strings.Index(tail[from:], sub)
			if i < 0 {
				return longValue(-1)
			}
			pos = from + i
			from = pos + max(1, len(sub))
			if from > len(tail) {
				if k+1 < occurrence {
					return longValue(-1)
				}
			}
		}
		return longValue(start + int64(utf8.RuneCountInString(tail[:pos])))
	}})
	reg("split", &fnSpec{min: 2, max: 3, typ: TypeDynamic, en: func(a []Value) Value {
		parts := strings.Split(str(a[0]), str(a[1]))
		if str(a[1]) == "" {
			parts = []string{str(a[0])}
		}
		if len(a) > 2 {
			i, ok := toLong(a[2])
			if !ok || i < 0 || i >= int64(len(parts)) {
				return newArray(nil)
			}
			return newArray([]Value{stringValue(parts[i])})
		}
		vals := make([]Value, len(parts))
		for i, p := range parts {
			vals[i] = stringValue(p)
		}
		return newArray(vals)
	}})
	reg("replace_string", &fnSpec{min: 3, max: 3, typ: TypeString, e3: func(s, old, repl Value) Value {
		if str(old) == "" {
			return stringValue(str(s))
		}
		guardSize(len(str(s)) + strings.Count(str(s), str(old))*len(str(repl)))
		return stringValue(strings.ReplaceAll(str(s), str(old), str(repl)))
	}})
	reg("replace_regex", &fnSpec{min: 3, max: 3, typ: TypeString, compile: regexFunc(1, func(re *regexp.Regexp, a []Value) Value {
		guardSize(len(str(a[0])) * max(1, len(str(a[2]))))
		return stringValue(re.ReplaceAllString(str(a[0]), kustoRewrite(str(a[2]))))
	})})
	reg("replace", &fnSpec{min: 3, max: 3, typ: TypeString, compile: regexFunc(0, func(re *regexp.Regexp, a []Value) Value {
		guardSize(len(str(a[2])) * max(1, len(str(a[1]))))
		return stringValue(re.ReplaceAllString(str(a[2]), kustoRewrite(str(a[1]))))
	})})
	reg("extract", &fnSpec{min: 3, max: 4, compile: extractCompile})
	reg("extract_all", &fnSpec{min: 2, max: 3, typ: TypeDynamic, compile: regexFunc(0, func(re *regexp.Regexp, a []Value) Value {
		text := str(a[len(a)-1])
		var groups []int
		if len(a) == 3 {
			if a[1].T == TypeDynamic && !a[1].Null {
				a[1].d.each(func(_ string, v Dyn) bool {
					if n, ok := toLong(dynValue(v)); ok {
						groups = append(groups, int(n))
					}
					return true
				})
			}
		}
		matches := re.FindAllStringSubmatch(text, 10000)
		if len(matches) == 0 {
			return nullValue
		}
		var out []Value
		for _, m := range matches {
			switch {
			case len(groups) > 0:
				var sub []Value
				for _, g := range groups {
					if g >= 0 && g < len(m) {
						sub = append(sub, stringValue(m[g]))
					}
				}
				out = append(out, newArray(sub))
			case len(m) == 1:
				out = append(out, stringValue(m[0]))
			case len(m) == 2:
				out = append(out, stringValue(m[1]))
			default:
				var sub []Value
				for _, g := range m[1:] {
					sub = append(sub, stringValue(g))
				}
				out = append(out, newArray(sub))
			}
		}
		return newArray(out)
	})})
	reg("trim", &fnSpec{min: 2, max: 2, typ: TypeString, compile: trimFunc(true, true)})
	reg("trim_start", &fnSpec{min: 2, max: 2, typ: TypeString, compile: trimFunc(true, false)})
	reg("trim_end", &fnSpec{min: 2, max: 2, typ: TypeString, compile: trimFunc(false, true)})
	reg("countof", &fnSpec{min: 2, max: 3, typ: TypeLong, en: func(a []Value) Value {
		text, search := str(a[0]), str(a[1])
		if len(a) > 2 && str(a[2]) == "regex" {
			re, err := cachedRegex(search)
			if err != nil {
				return nullOf(TypeLong)
			}
			return longValue(int64(len(re.FindAllStringIndex(text, -1))))
		}
		if search == "" {
			return longValue(0)
		}
		// Kusto counts overlapping occurrences in "normal" mode.
		n := 0
		for i := 0; ; {
			j := strings.Index(text[i:], search)
			if j < 0 {
				break
			}
			n++
			_, size := utf8.DecodeRuneInString(text[i+j:])
			i += j + size
		}
		return longValue(int64(n))
	}})
	reg("base64_encode_tostring", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		return stringValue(base64.StdEncoding.EncodeToString([]byte(str(a))))
	}}, "base64_encodestring")
	reg("base64_decode_tostring", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		b, err := base64.StdEncoding.DecodeString(str(a))
		if err != nil || !utf8.Valid(b) {
			return emptyString
		}
		return stringValue(string(b))
	}}, "base64_decodestring")
	reg("url_encode", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value { return stringValue(url.QueryEscape(str(a))) }}, "url_encode_component")
	reg("url_decode", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		s, err := url.QueryUnescape(str(a))
		if err != nil {
			return emptyString
		}
		return stringValue(s)
	}})
	reg("hash_sha256", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		h := sha256.Sum256([]byte(str(a)))
		return stringValue(hex.EncodeToString(h[:]))
	}})
	reg("hash_sha1", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		h := sha1.Sum([]byte(str(a)))
		return stringValue(hex.EncodeToString(h[:]))
	}})
	reg("hash_md5", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value {
		h := md5.Sum([]byte(str(a)))
		return stringValue(hex.EncodeToString(h[:]))
	}})
	reg("hash", &fnSpec{min: 1, max: 2, typ: TypeLong, en: func(a []Value) Value {
		h := int64(xxhash64([]byte(hashInput(a[0]))))
		if len(a) > 1 {
			m, ok := toLong(a[1])
			if !ok || m <= 0 {
				return nullOf(TypeLong)
			}
			h = int64(uint64(h) % uint64(m))
		}
		return longValue(h)
	}})
	reg("new_guid", &fnSpec{min: 0, max: 0, typ: TypeGuid, volatile: true, en: func([]Value) Value { return guidValue(newGUID()) }})
}

func hashInput(v Value) string { return toStringValue(v) }

// kustoRewrite converts Kusto's \1 group references to Go's ${1}.
func kustoRewrite(s string) string {
	if !strings.Contains(s, `\`) && !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && isDigit(s[i+1]):
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
		case c == '$':
			if i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '{') {
				b.WriteByte('$') // already Go/.NET style
			} else {
				b.WriteString("$$")
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// regexFunc compiles the regex argument at index reIdx once when constant.
func regexFunc(reIdx int, f func(re *regexp.Regexp, a []Value) Value) func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
	return func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		var fixedRe *regexp.Regexp
		if k := args[reIdx].konst; k != nil {
			re, err := compileRegex(str(*k))
			if err != nil {
				c.errorf(call.Args[reIdx].Position(), CodeInvalidQuery, "%s(): invalid regular expression: %v", call.Name, err)
			}
			fixedRe = re
		}
		fns := make([]getter, len(args))
		for i := range args {
			fns[i] = args[i].fn
		}
		spec := functions[call.Name]
		return compiledExpr{typ: spec.typ, fn: func(r *row) Value {
			vals := make([]Value, len(fns))
			for i, g := range fns {
				vals[i] = g(r)
			}
			re := fixedRe
			if re == nil {
				var err error
				if re, err = cachedRegex(str(vals[reIdx])); err != nil {
					return nullOf(spec.typ)
				}
			}
			return f(re, vals)
		}}
	}
}

// extract(regex, group, text [, typeof(T)]).
func extractCompile(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
	typ := TypeString
	if len(args) == 4 {
		if args[3].konst == nil {
			c.errorf(call.P, CodeInvalidQuery, "extract(): the fourth argument must be typeof(T)")
		}
		typ, _ = parseTypeName(args[3].konst.s)
	}
	inner := regexFunc(0, func(re *regexp.Regexp, a []Value) Value {
		g, ok := toLong(a[1])
		if !ok || g < 0 || int(g) > re.NumSubexp() {
			return nullOf(typ)
		}
		m := re.FindStringSubmatch(str(a[2]))
		if m == nil {
			return nullOf(typ)
		}
		return convertTo(stringValue(m[g]), typ)
	})(c, call, args[:3])
	inner.typ = typ
	return inner
}

// trim(regex, text): the first argument is a regular expression removed,
// repeatedly, at the start and/or end. A pattern without metacharacters is
// trimmed as a literal without the regexp engine.
func trimFunc(start, end bool) func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
	return func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		type trimmer struct {
			literal    string
			isLiteral  bool
			head, tail *regexp.Regexp
		}
		build := func(pat string) (*trimmer, error) {
			if regexp.QuoteMeta(pat) == pat {
				return &trimmer{literal: pat, isLiteral: true}, nil
			}
			t := &trimmer{}
			var err error
			if t.head, err = compileRegex("^(?:" + pat + ")+"); err != nil {
				return nil, err
			}
			if t.tail, err = compileRegex("(?:" + pat + ")+$"); err != nil {
				return nil, err
			}
			return t, nil
		}
		apply := func(t *trimmer, s string) string {
			if t.isLiteral {
				if t.literal == "" {
					return s
				}
				for start && strings.HasPrefix(s, t.literal) {
					s = s[len(t.literal):]
				}
				for end && strings.HasSuffix(s, t.literal) {
					s = s[:len(s)-len(t.literal)]
				}
				return s
			}
			if start {
				if loc := t.head.FindStringIndex(s); loc != nil {
					s = s[loc[1]:]
				}
			}
			if end {
				if loc := t.tail.FindStringIndex(s); loc != nil {
					s = s[:loc[0]]
				}
			}
			return s
		}
		var fixed *trimmer
		if k := args[0].konst; k != nil {
			t, err := build(str(*k))
			if err != nil {
				c.errorf(call.Args[0].Position(), CodeInvalidQuery, "%s(): invalid regular expression: %v", call.Name, err)
			}
			fixed = t
		}
		pf, tf := args[0].fn, args[1].fn
		return compiledExpr{typ: TypeString, fn: func(r *row) Value {
			t := fixed
			if t == nil {
				var err error
				if t, err = build(str(pf(r))); err != nil {
					return emptyString
				}
			}
			return stringValue(apply(t, str(tf(r))))
		}}
	}
}
