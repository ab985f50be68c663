package policy

import (
	"fmt"
	"math"
	"strings"
)

// Template functions are registered by name (case-insensitive, as in ARM).
// Each function says whether it is pure: pure calls with constant arguments
// are folded when a definition is bound to its parameters, so a rule such as
// "[concat('tags[', parameters('tagName'), ']')]" costs nothing per resource.

type funcDef struct {
	name    string // canonical spelling
	minArgs int
	maxArgs int  // -1: variadic
	pure    bool // result depends only on the arguments
	call    func(c *evalCtx, args []any) (any, error)
	// lazy functions receive unevaluated arguments (if() evaluates only the
	// branch it returns, which the docs rely on to avoid template failures).
	lazy func(c *evalCtx, args []expr) (any, error)
}

func (f *funcDef) arity() string {
	switch {
	case f.maxArgs < 0:
		return fmt.Sprintf("at least %d argument(s)", f.minArgs)
	case f.minArgs == f.maxArgs:
		return fmt.Sprintf("%d argument(s)", f.minArgs)
	}
	return fmt.Sprintf("%d to %d arguments", f.minArgs, f.maxArgs)
}

var functions = map[string]*funcDef{}

func register(name string, minArgs, maxArgs int, pure bool, call func(*evalCtx, []any) (any, error)) {
	functions[strings.ToLower(name)] = &funcDef{name: name, minArgs: minArgs, maxArgs: maxArgs, pure: pure, call: call}
}

func registerLazy(name string, minArgs, maxArgs int, lazy func(*evalCtx, []expr) (any, error)) {
	functions[strings.ToLower(name)] = &funcDef{name: name, minArgs: minArgs, maxArgs: maxArgs, lazy: lazy}
}

func lookupFunction(name string) (*funcDef, bool) {
	f, ok := functions[strings.ToLower(name)]
	return f, ok
}

// FunctionNames returns the registered template function names.
func FunctionNames() []string {
	out := make([]string, 0, len(functions))
	for _, f := range functions {
		out = append(out, f.name)
	}
	return out
}

// excludedFunctions are the ARM template functions Azure Policy does not allow
// in a policy rule (definition-structure-policy-rule, "Policy functions").
// They stay usable inside a DeployIfNotExists deployment template, which the
// engine never evaluates.
var excludedFunctions = map[string]string{
	"copyindex":                 "deployment-only",
	"datetimeadd":               "excluded from policy rules; use addDays()",
	"datetimefromepoch":         "excluded from policy rules",
	"datetimetoepoch":           "excluded from policy rules",
	"deployment":                "deployment-only",
	"environment":               "deployment-only",
	"extensionresourceid":       "excluded from policy rules",
	"lambda":                    "lambdas are excluded from policy rules",
	"filter":                    "lambda function",
	"map":                       "lambda function",
	"reduce":                    "lambda function",
	"sort":                      "lambda function",
	"toobject":                  "lambda function",
	"listaccountsas":            "list* functions are excluded",
	"listkeys":                  "list* functions are excluded",
	"listsecrets":               "list* functions are excluded",
	"list":                      "list* functions are excluded",
	"managementgroup":           "excluded from policy rules",
	"managementgroupresourceid": "excluded from policy rules",
	"newguid":                   "excluded from policy rules",
	"pickzones":                 "excluded from policy rules",
	"providers":                 "excluded from policy rules",
	"reference":                 "excluded from policy rules",
	"resourceid":                "excluded from policy rules",
	"subscriptionresourceid":    "excluded from policy rules",
	"tenantresourceid":          "excluded from policy rules",
	"tenant":                    "excluded from policy rules",
	"variables":                 "policy definitions have no variables",
}

// Argument helpers. Messages name the argument position the way ARM does.

func argString(fn string, args []any, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", evalErrorf("%s: argument %d must be a string, got %s", fn, i+1, typeName(args[i]))
	}
	return s, nil
}

func argInt(fn string, args []any, i int) (int, error) {
	f, ok := args[i].(float64)
	if !ok || f != math.Trunc(f) {
		return 0, evalErrorf("%s: argument %d must be an integer, got %s", fn, i+1, typeName(args[i]))
	}
	if f > math.MaxInt32 || f < math.MinInt32 {
		return 0, evalErrorf("%s: argument %d is out of range", fn, i+1)
	}
	return int(f), nil
}

func argBool(fn string, args []any, i int) (bool, error) {
	b, ok := args[i].(bool)
	if !ok {
		return false, evalErrorf("%s: argument %d must be a boolean, got %s", fn, i+1, typeName(args[i]))
	}
	return b, nil
}

func argArray(fn string, args []any, i int) ([]any, error) {
	a, ok := args[i].([]any)
	if !ok {
		return nil, evalErrorf("%s: argument %d must be an array, got %s", fn, i+1, typeName(args[i]))
	}
	return a, nil
}

// templateEquals is ARM's equals(): deep comparison, strings
// case-sensitively (ARM's comparison functions are ordinal, unlike policy
// conditions).
func templateEquals(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !templateEquals(x[i], y[i]) {
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
			w, ok := y[k]
			if !ok || !templateEquals(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}
