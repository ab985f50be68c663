package policy

// Applicability (policy-applicability.md): for AuditIfNotExists and
// DeployIfNotExists the whole if-condition decides whether a resource is
// applicable. For the other effects Azure evaluates only the type, name and
// kind conditions and treats every other condition as true (false when
// negated), with special cases:
//
//   - only kind conditions, or only name conditions: applicable to all;
//   - only type and kind, or only type and name: only type decides;
//   - type, kind and others: type and kind decide;
//   - type, name and others: type and name decide.
//
// A resource that is not applicable gets no compliance result at all.

// applicability is the compiled plan for one bound if-condition.
type applicability struct {
	considerType, considerName, considerKind bool
}

// planApplicability inspects which field kinds the condition tests.
func planApplicability(n condNode) applicability {
	var hasType, hasName, hasKind, hasOther bool
	var visit func(condNode)
	visit = func(n condNode) {
		switch x := n.(type) {
		case *allOfNode:
			for _, c := range x.children {
				visit(c)
			}
		case *anyOfNode:
			for _, c := range x.children {
				visit(c)
			}
		case *notNode:
			visit(x.child)
		case *leafNode:
			switch applicabilityField(x) {
			case fieldType:
				hasType = true
			case fieldName:
				hasName = true
			case fieldKindProp:
				hasKind = true
			default:
				hasOther = true
			}
		default:
			hasOther = true
		}
	}
	visit(n)
	var a applicability
	switch {
	case !hasType:
		// Only kind, only name (or both, or neither): applicable to all.
		// With other conditions as well, name and kind still decide (the
		// general rule).
		if hasOther {
			a.considerName, a.considerKind = hasName, hasKind
		}
	case !hasOther:
		// Only type, possibly with kind or name: type alone decides.
		a.considerType = true
	default:
		a.considerType, a.considerName, a.considerKind = true, hasName, hasKind
	}
	return a
}

// applicabilityField returns the kind of field a leaf tests, or -1 when it
// is not a field condition on type, name or kind.
func applicabilityField(l *leafNode) fieldKind {
	if l.operand != operandField || l.field == nil {
		return -1
	}
	switch l.field.kind {
	case fieldType, fieldName, fieldKindProp:
		return l.field.kind
	}
	return -1
}

func (a applicability) considers(k fieldKind) bool {
	switch k {
	case fieldType:
		return a.considerType
	case fieldName:
		return a.considerName
	case fieldKindProp:
		return a.considerKind
	}
	return false
}

// applicable evaluates the condition with only the considered leaves; the
// others count as true, or false under an odd number of "not"s.
func (a applicability) applicable(n condNode, c *evalCtx, negated bool) (bool, error) {
	switch x := n.(type) {
	case *allOfNode:
		for _, ch := range x.children {
			ok, err := a.applicable(ch, c, negated)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *anyOfNode:
		for _, ch := range x.children {
			ok, err := a.applicable(ch, c, negated)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *notNode:
		ok, err := a.applicable(x.child, c, !negated)
		return !ok && err == nil, err
	case *leafNode:
		if a.considers(applicabilityField(x)) {
			return x.eval(c)
		}
	}
	return !negated, nil
}
