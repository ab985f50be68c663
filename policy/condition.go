package policy

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// Condition is an if-condition compiled on its own, outside a definition:
// field, value and count conditions combined with allOf, anyOf and not, in
// the policy rule language. It has no parameters (parameters() is an
// error) and no assignment (policy() returns empty ids). posture uses it
// for the evidence checks of exemptions. It is immutable and safe for
// concurrent use.
type Condition struct {
	node     condNode
	fields   []FieldFact
	warnings []Warning
	aliases  *AliasCatalog
}

// ConditionOptions tune ParseCondition.
type ConditionOptions struct {
	// Aliases replaces the embedded alias catalog.
	Aliases *AliasCatalog
	// Path is the JSON path of the condition in the request it came from;
	// error paths, warning paths and Reason.Condition start with it.
	// Default "if".
	Path string
}

// ParseCondition parses and binds an if-condition the way a definition's
// rule is parsed and bound: the same syntax checks and authoring limits,
// aliases resolved through the catalog (an alias outside it is resolved
// heuristically, with a warning). Problems are returned as Errors, each
// with its code and path.
func ParseCondition(data []byte, opts ConditionOptions) (*Condition, error) {
	root := opts.Path
	if root == "" {
		root = "if"
	}
	if opts.Aliases == nil {
		opts.Aliases = DefaultAliases()
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicyRule, root, "the condition is not valid JSON: %v", err)}
	}
	p := &ruleParser{}
	node := p.parseCondition(v, root, 0)
	if p.conditions > maxIfConditions {
		p.errorf(CodeInvalidPolicyRule, root, "the condition has %d conditions; the limit is %d", p.conditions, maxIfConditions)
	}
	if p.functions > maxRuleFunctions {
		p.errorf(CodeInvalidPolicyRule, root, "the condition calls %d functions; the limit is %d", p.functions, maxRuleFunctions)
	}
	if len(p.errs) > 0 {
		return nil, p.errs.err()
	}
	// Node paths already start with root, so the binder adds no prefix.
	b := newBinder(map[string]any{}, opts.Aliases, "")
	bound, err := node.bind(b)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, Errors{e}
		}
		return nil, Errors{errorf(CodeInvalidPolicyRule, root, "%v", err)}
	}
	c := &Condition{node: bound, warnings: b.warnings, aliases: opts.Aliases}
	for _, name := range b.fieldNames {
		spec := b.fields[strings.ToLower(name)]
		c.fields = append(c.fields, FieldFact{Name: name, Path: spec.resolvedPath(), Derived: spec.derived})
	}
	return c, nil
}

// Fields are the fields the condition reads, in first-use order.
func (c *Condition) Fields() []FieldFact { return append([]FieldFact(nil), c.fields...) }

// Warnings are the aliases resolved outside the catalog.
func (c *Condition) Warnings() []Warning { return append([]Warning(nil), c.warnings...) }

// Eval evaluates the condition against r. Unless opts.Reasons is
// ReasonsNone, the reasons are the ones Evaluate gives: the conditions that
// decided the outcome, with the field, its resolved path, the operator and
// the actual and expected values. An evaluation error (a type mismatch in a
// comparison, a function failing, the work budget spent) is returned as
// the error; so is a panic, which never escapes.
func (c *Condition) Eval(ctx context.Context, r *Resource, opts EvalOptions) (result bool, reasons []Reason, err error) {
	if r == nil {
		return false, nil, fmt.Errorf("policy: condition: no resource")
	}
	opts = opts.withDefaults()
	defer func() {
		if p := recover(); p != nil {
			result, reasons = false, nil
			err = fmt.Errorf("policy: internal error evaluating a condition: %v\n%s", p, debug.Stack())
		}
	}()
	ec := &evalCtx{
		ctx:        ctx,
		res:        r,
		ifRes:      r,
		now:        opts.Now,
		apiVersion: opts.APIVersion,
		aliases:    c.aliases,
		budget:     opts.Budget,
		tracing:    opts.Reasons != ReasonsNone,
	}
	result, err = c.node.eval(ec)
	if err != nil {
		return false, ec.reasons, err
	}
	return result, ec.reasons, nil
}
