package match

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Case-insensitive matching here is rune by rune with Unicode simple
// folding, which is what strings.EqualFold does, so that like 'abc' and
// equals 'abc' agree on every input (docs §5, §8). Folded runes may differ
// in byte length (K and the Kelvin sign), so nothing compares bytes.

// like reports whether v matches the glob whose literal runs between stars
// are parts (docs §8). With stars, the first run must be a prefix and the
// last a suffix; runs in between are found leftmost-first, which is enough
// for a glob whose only wildcard is *.
func like(parts []string, star bool, v string) bool {
	if !star {
		return strings.EqualFold(v, parts[0])
	}
	v, ok := cutPrefixFold(v, parts[0])
	if !ok {
		return false
	}
	v, ok = cutSuffixFold(v, parts[len(parts)-1])
	if !ok {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if v, ok = cutThroughFold(v, p); !ok {
			return false
		}
	}
	return true
}

// cutPrefixFold returns s without a prefix equal to p ignoring case.
func cutPrefixFold(s, p string) (string, bool) {
	for p != "" {
		if s == "" {
			return "", false
		}
		if s[0] < utf8.RuneSelf && p[0] < utf8.RuneSelf {
			if lowerASCII(s[0]) != lowerASCII(p[0]) {
				return "", false
			}
			s, p = s[1:], p[1:]
			continue
		}
		a, n := utf8.DecodeRuneInString(s)
		b, m := utf8.DecodeRuneInString(p)
		if !sameRune(a, b) {
			return "", false
		}
		s, p = s[n:], p[m:]
	}
	return s, true
}

// cutSuffixFold returns s without a suffix equal to p ignoring case.
func cutSuffixFold(s, p string) (string, bool) {
	for p != "" {
		if s == "" {
			return "", false
		}
		if x, y := s[len(s)-1], p[len(p)-1]; x < utf8.RuneSelf && y < utf8.RuneSelf {
			if lowerASCII(x) != lowerASCII(y) {
				return "", false
			}
			s, p = s[:len(s)-1], p[:len(p)-1]
			continue
		}
		a, n := utf8.DecodeLastRuneInString(s)
		b, m := utf8.DecodeLastRuneInString(p)
		if !sameRune(a, b) {
			return "", false
		}
		s, p = s[:len(s)-n], p[:len(p)-m]
	}
	return s, true
}

// cutThroughFold finds the first p in s ignoring case and returns what
// follows it.
func cutThroughFold(s, p string) (string, bool) {
	for i := 0; i <= len(s); {
		if rest, ok := cutPrefixFold(s[i:], p); ok {
			return rest, true
		}
		if i == len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return "", false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// sameRune reports whether a and b are equal under simple folding.
func sameRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return 'A' <= a && a <= 'Z' && a+'a'-'A' == b || 'A' <= b && b <= 'Z' && b+'a'-'A' == a
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// foldKey maps s to one representative of the strings equal to it ignoring
// case (each rune to the smallest of its fold orbit), for maps keyed that
// way. Parsing only.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// newTagKey computes the byte lengths a string equal to key ignoring case
// can have.
func newTagKey(key string) tagKey {
	k := tagKey{key: key}
	for _, r := range key {
		lo, hi := runeLen(r), runeLen(r)
		if r == utf8.RuneError {
			lo = 1 // EqualFold reads each invalid byte of a stored key as U+FFFD
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			lo, hi = min(lo, runeLen(f)), max(hi, runeLen(f))
		}
		k.min += lo
		k.max += hi
	}
	return k
}

// runeLen is utf8.RuneLen; JSON decoding has replaced what would not
// encode by U+FFFD, 3 bytes.
func runeLen(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return 3
}
