package authz

import "strings"

// pattern is one compiled entry of actions, notActions, dataActions or
// notDataActions: the lower-case literal parts between wildcards. Azure
// allows one wildcard per action string (custom-roles.md, "Custom role
// limits"); the matcher handles any number so that no input can make it
// misbehave.
type pattern struct {
	parts []string // len(parts) == wildcards+1
}

func compilePattern(s string) pattern {
	return pattern{parts: strings.Split(strings.ToLower(s), "*")}
}

func (p pattern) literal() bool { return len(p.parts) == 1 }

// match reports whether the lower-case action s is one of the actions p
// stands for. A wildcard matches any run of characters, slashes included
// ("Microsoft.Network/*/read" grants reads on every Microsoft.Network type,
// nested ones too, as role-definitions.md documents).
func (p pattern) match(s string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return s == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mid):]
	}
	return true
}

// covers reports whether every action w stands for is one p stands for. For
// a literal w that is match; for w = w1*w2 against p = p1*p2 it holds
// exactly when w1 starts with p1 and w2 ends with p2. Multi-wildcard
// patterns, which validation rejects, answer false: covers must never
// over-grant.
func (p pattern) covers(w pattern) bool {
	if w.literal() {
		return p.match(w.parts[0])
	}
	if p.literal() || len(p.parts) > 2 || len(w.parts) > 2 {
		return false
	}
	return strings.HasPrefix(w.parts[0], p.parts[0]) && strings.HasSuffix(w.parts[1], p.parts[1])
}

// overlaps reports whether some action is stood for by both p and w. Two
// single-wildcard patterns overlap exactly when one prefix extends the
// other and one suffix extends the other. Multi-wildcard patterns answer
// true: an exclusion that might apply must be assumed to apply.
func (p pattern) overlaps(w pattern) bool {
	switch {
	case w.literal():
		return p.match(w.parts[0])
	case p.literal():
		return w.match(p.parts[0])
	case len(p.parts) > 2 || len(w.parts) > 2:
		return true
	}
	p1, p2, w1, w2 := p.parts[0], p.parts[1], w.parts[0], w.parts[1]
	prefixes := strings.HasPrefix(p1, w1) || strings.HasPrefix(w1, p1)
	suffixes := strings.HasSuffix(p2, w2) || strings.HasSuffix(w2, p2)
	return prefixes && suffixes
}

// MatchAction reports whether action is one of the actions the pattern
// stands for, as Azure compares them: case-insensitively, with "*" matching
// any run of characters ("*", "*/read", "Microsoft.Compute/*",
// "Microsoft.Authorization/*/read").
func MatchAction(pattern, action string) bool {
	return compilePattern(pattern).match(strings.ToLower(action))
}

// permissionBlock is one compiled entry of a role's permissions. Its
// effective permissions are actions minus notActions and dataActions minus
// notDataActions (role-definitions.md, "NotActions").
type permissionBlock struct {
	actions, notActions, dataActions, notDataActions []pattern
}

func compileBlock(p Permission) permissionBlock {
	return permissionBlock{
		actions:        compileAll(p.Actions),
		notActions:     compileAll(p.NotActions),
		dataActions:    compileAll(p.DataActions),
		notDataActions: compileAll(p.NotDataActions),
	}
}

func compileAll(ss []string) []pattern {
	out := make([]pattern, len(ss))
	for i, s := range ss {
		out[i] = compilePattern(s)
	}
	return out
}

// grants reports whether the block grants every action w stands for (just
// w, when w is a literal action).
func (b *permissionBlock) grants(w pattern, data bool) bool {
	allow, deny := b.actions, b.notActions
	if data {
		allow, deny = b.dataActions, b.notDataActions
	}
	granted := false
	for _, a := range allow {
		if a.covers(w) {
			granted = true
			break
		}
	}
	if !granted {
		return false
	}
	for _, n := range deny {
		if n.overlaps(w) {
			return false
		}
	}
	return true
}
