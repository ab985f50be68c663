package policy

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
	"time"
)

// Policy-only functions (field, current, parameters, requestContext, policy,
// ipRangeContains, addDays), the resource functions that policy rules may use
// (resourceGroup, subscription), utcNow, and the hash functions.

func init() {
	// field(), current() and parameters() with a literal argument are
	// turned into their own nodes by the parser; these registrations handle
	// computed arguments.
	register("field", 1, 1, false, func(c *evalCtx, a []any) (any, error) {
		name, err := argString("field", a, 0)
		if err != nil {
			return nil, err
		}
		spec, _ := c.catalog().resolveField(name, nil)
		return (&fieldFnExpr{name: name, spec: spec}).eval(c)
	})
	register("current", 0, 1, false, func(c *evalCtx, a []any) (any, error) {
		if len(a) == 0 {
			return (&currentExpr{}).eval(c)
		}
		name, err := argString("current", a, 0)
		if err != nil {
			return nil, err
		}
		e := &currentExpr{name: name, named: true}
		if strings.Contains(name, "/") {
			e.spec, _ = c.catalog().resolveField(name, nil)
		}
		return e.eval(c)
	})
	register("parameters", 1, 1, false, func(c *evalCtx, a []any) (any, error) {
		return nil, evalErrorf("parameters() needs a literal parameter name")
	})
	register("requestContext", 0, 0, false, func(c *evalCtx, _ []any) (any, error) {
		// During compliance scans Azure uses the latest API version and
		// there is no caller identity (docs/policy-semantics.md).
		return map[string]any{"apiVersion": c.apiVersion, "identity": map[string]any{}}, nil
	})
	register("policy", 0, 0, false, func(c *evalCtx, _ []any) (any, error) {
		if c.policyInfo == nil {
			return map[string]any{"assignmentId": "", "definitionId": "", "setDefinitionId": "", "definitionReferenceId": ""}, nil
		}
		return c.policyInfo, nil
	})
	register("resourceGroup", 0, 0, false, func(c *evalCtx, _ []any) (any, error) {
		if c.ifRes == nil {
			return nil, evalErrorf("resourceGroup() needs a resource")
		}
		return c.ifRes.resourceGroupObject()
	})
	register("subscription", 0, 0, false, func(c *evalCtx, _ []any) (any, error) {
		if c.ifRes == nil {
			return nil, evalErrorf("subscription() needs a resource")
		}
		return c.ifRes.subscriptionObject()
	})
	register("utcNow", 0, 1, false, func(c *evalCtx, a []any) (any, error) {
		format := ""
		if len(a) == 1 {
			var err error
			if format, err = argString("utcNow", a, 0); err != nil {
				return nil, err
			}
		}
		return formatDotNetTime(c.now.UTC(), format)
	})
	register("addDays", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		s, err := argString("addDays", a, 0)
		if err != nil {
			return nil, err
		}
		n, err := argInt("addDays", a, 1)
		if err != nil {
			return nil, err
		}
		t, ok := parseDateTime(s)
		if !ok {
			return nil, evalErrorf("addDays: %q is not an ISO 8601 date-time", s)
		}
		return formatDotNetTime(t.AddDate(0, 0, n), "")
	})
	register("ipRangeContains", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		r, t, err := twoStrings("ipRangeContains", a)
		if err != nil {
			return nil, err
		}
		return ipRangeContains(r, t)
	})
}

// parseDateTime accepts the ISO 8601 forms Azure emits: with or without
// fraction and offset, and plain dates. It picks the layout from the
// string's shape rather than trying each one, because it runs for every
// string ordering comparison.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	var layout string
	switch {
	case len(s) == 10:
		layout = "2006-01-02"
	case s[10] != 'T' && s[10] != 't':
		return time.Time{}, false
	case strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") || strings.LastIndexAny(s, "+-") > 10:
		layout = time.RFC3339Nano
	case len(s) == 16:
		layout = "2006-01-02T15:04"
	default:
		layout = "2006-01-02T15:04:05.9999999"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// formatDotNetTime renders t with a .NET format string. The default is
// Azure Policy's "yyyy-MM-ddTHH:mm:ss.fffffffZ"; the standard specifiers "u",
// "d", "o" and the common custom tokens are supported.
func formatDotNetTime(t time.Time, format string) (string, error) {
	switch format {
	case "":
		return t.Format("2006-01-02T15:04:05.0000000Z"), nil
	case "o", "O":
		return t.Format("2006-01-02T15:04:05.0000000Z07:00"), nil
	case "u":
		return t.Format("2006-01-02 15:04:05Z"), nil
	case "d":
		return t.Format("1/2/2006"), nil
	}
	replacer := []struct{ from, to string }{
		{"yyyy", "2006"}, {"yy", "06"}, {"MM", "01"}, {"dd", "02"}, {"HH", "15"}, {"hh", "03"},
		{"mm", "04"}, {"ss", "05"}, {"fffffff", "0000000"}, {"fff", "000"}, {"tt", "PM"},
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		matched := false
		for _, r := range replacer {
			if strings.HasPrefix(format[i:], r.from) {
				b.WriteString(t.Format(r.to))
				i += len(r.from)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(format[i])
			i++
		}
	}
	return b.String(), nil
}

// ipRangeContains implements the policy function: each side is a single
// address, a CIDR prefix or a "start-end" range; families must match.
func ipRangeContains(rangeText, target string) (any, error) {
	lo, hi, err := parseIPRange(rangeText)
	if err != nil {
		return nil, err
	}
	tlo, thi, err := parseIPRange(target)
	if err != nil {
		return nil, err
	}
	if lo.Is4() != tlo.Is4() {
		return nil, evalErrorf("ipRangeContains: cannot mix IPv4 and IPv6 ranges (%q, %q)", rangeText, target)
	}
	return lo.Compare(tlo) <= 0 && thi.Compare(hi) <= 0, nil
}

func parseIPRange(s string) (netip.Addr, netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, netip.Addr{}, evalErrorf("ipRangeContains: empty range")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, netip.Addr{}, evalErrorf("ipRangeContains: %q is not a CIDR range", s)
		}
		p = p.Masked()
		return p.Addr(), lastAddr(p), nil
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || lo.Is4() != hi.Is4() || hi.Less(lo) {
			return netip.Addr{}, netip.Addr{}, evalErrorf("ipRangeContains: %q is not a valid address range", s)
		}
		return lo.Unmap(), hi.Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, evalErrorf("ipRangeContains: %q is not an IP address", s)
	}
	return a.Unmap(), a.Unmap(), nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bitsLen := len(b) * 8
	for i := p.Bits(); i < bitsLen; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// fnUniqueString is ARM's uniqueString(): the arguments joined with "-",
// hashed with the 64-bit MurmurHash variant ARM uses, and the top 65 bits
// rendered as 13 lower-case base32 characters. Checked against values
// produced by ARM (see functions_test.go).
func fnUniqueString(_ *evalCtx, a []any) (any, error) {
	parts := make([]string, len(a))
	for i := range a {
		s, err := argString("uniqueString", a, i)
		if err != nil {
			return nil, err
		}
		parts[i] = s
	}
	h := armMurmur64([]byte(strings.Join(parts, "-")))
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	out := make([]byte, 13)
	for i := range out {
		out[i] = alphabet[h>>59]
		h <<= 5
	}
	return string(out), nil
}

// armMurmur64 is the two-lane 32-bit MurmurHash3-style hash ARM uses for
// uniqueString (seed 0), combined into 64 bits.
func armMurmur64(data []byte) uint64 {
	const (
		c1 = 0x239b961b
		c2 = 0xab0e9789
		c3 = 0x85ebca6b
		c4 = 0xc2b2ae35
	)
	var h1, h2 uint32
	n := len(data)
	i := 0
	for ; i+8 <= n; i += 8 {
		k1 := binary.LittleEndian.Uint32(data[i:])
		k2 := binary.LittleEndian.Uint32(data[i+4:])
		k1 = bits.RotateLeft32(k1*c1, 15) * c2
		h1 = bits.RotateLeft32(h1^k1, 19) + h2
		h1 = h1*5 + 0x561ccd1b
		k2 = bits.RotateLeft32(k2*c2, 17) * c1
		h2 = bits.RotateLeft32(h2^k2, 13) + h1
		h2 = h2*5 + 0x0bcaa747
	}
	if rem := n - i; rem > 0 {
		var k1 uint32
		for j := min(rem, 4) - 1; j >= 0; j-- {
			k1 = k1<<8 | uint32(data[i+j])
		}
		h1 ^= bits.RotateLeft32(k1*c1, 15) * c2
		if rem > 4 {
			var k2 uint32
			for j := rem - 5; j >= 0; j-- {
				k2 = k2<<8 | uint32(data[i+4+j])
			}
			h2 ^= bits.RotateLeft32(k2*c2, 17) * c1
		}
	}
	h2 ^= uint32(n)
	h1 = (h1 ^ uint32(n)) + h2
	h2 += h1
	fmix := func(h uint32) uint32 {
		h = (h ^ h>>16) * c3
		h = (h ^ h>>13) * c4
		return h ^ h>>16
	}
	h1 = fmix(h1)
	h2 = fmix(h2)
	h1 += h2
	h2 += h1
	return uint64(h2)<<32 | uint64(h1)
}

// armGUIDNamespace is the name-based UUID namespace ARM's guid() uses
// (UNCONFIRMED: taken from public re-implementations, not from Microsoft
// documentation).
var armGUIDNamespace = [16]byte{0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd, 0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88, 0x30}

// fnGUID is ARM's guid(): a version-5 (SHA-1, name-based) UUID of the
// arguments joined with "-".
func fnGUID(_ *evalCtx, a []any) (any, error) {
	parts := make([]string, len(a))
	for i := range a {
		s, err := argString("guid", a, i)
		if err != nil {
			return nil, err
		}
		parts[i] = s
	}
	h := sha1.New()
	h.Write(armGUIDNamespace[:])
	h.Write([]byte(strings.Join(parts, "-")))
	sum := h.Sum(nil)
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}
