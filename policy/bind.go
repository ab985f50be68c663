package policy

import (
	"errors"
	"strings"
)

// binder turns a parsed rule into an executable one for a given set of
// parameter values: parameters('x') becomes a constant, pure calls on
// constants are folded, field names are resolved to document paths once, and
// policy() is fixed to the assignment being compiled.
type binder struct {
	params     map[string]any // lower-case parameter name -> effective value
	aliases    *AliasCatalog
	typeHints  []string
	policyInfo map[string]any
	basePath   string // prefix for error paths, e.g. "properties.policyRule"
	warnings   []Warning
	fields     map[string]*fieldSpec
	fieldNames []string // resolved field names in first-use order, for static facts
}

func newBinder(params map[string]any, aliases *AliasCatalog, basePath string) *binder {
	if aliases == nil {
		aliases = DefaultAliases()
	}
	return &binder{params: params, aliases: aliases, basePath: basePath, fields: map[string]*fieldSpec{}}
}

func (b *binder) param(name string) (any, bool) {
	v, ok := b.params[strings.ToLower(name)]
	return v, ok
}

// fieldAt resolves a field name, recording a warning (with the rule path)
// when the alias is not in the catalog.
func (b *binder) fieldAt(name, path string) *fieldSpec {
	key := strings.ToLower(name)
	if f, ok := b.fields[key]; ok {
		return f
	}
	f, w := b.aliases.resolveField(name, b.typeHints)
	if w != nil {
		w.Path = b.fullPath(path)
		b.warnings = append(b.warnings, *w)
	}
	b.fields[key] = f
	b.fieldNames = append(b.fieldNames, name)
	return f
}

// field resolves a field named inside an expression (field(), current()).
func (b *binder) field(name string) *fieldSpec { return b.fieldAt(name, "") }

func (b *binder) fullPath(p string) string {
	if b.basePath == "" {
		return p
	}
	if p == "" {
		return b.basePath
	}
	return b.basePath + "." + p
}

// wrap turns a plain binding error into a coded one carrying the path.
func (b *binder) wrap(err error, path string) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	code := CodeInvalidPolicyRule
	if strings.Contains(err.Error(), "undefined parameter") {
		code = CodeInvalidPolicyParameters
	}
	return errorf(code, b.fullPath(path), "%v", err)
}
