package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error codes. Where Azure Policy's own code is known it is used, so that a
// client written against ARM sees the same code from posture:
//
//   - InvalidPolicyRule: ARM's code for a rule that does not parse, e.g. an
//     unknown operator ("Could not find member 'lessThan' on object of type
//     'LeafExpression'", Azure/azure-policy#234; azure-cli#28377).
//   - InvalidPolicyParameters: ARM's code when a rule uses an undefined
//     parameter or a set's default is not valid for a member
//     (Azure/Enterprise-Scale#399, Azure/azure-policy#721).
//   - UndefinedPolicyParameter: ARM's code when an assignment or a set
//     reference passes a parameter the definition does not declare
//     (terraform-azurerm-caf-enterprise-scale#282,
//     enterprise-azure-policy-as-code#1076).
//   - PolicyParameterValueNotAllowed: ARM's code for a value outside
//     allowedValues (terraform-azurerm-caf-enterprise-scale#1313,
//     salesforce/cloud-guardrails#53).
//   - InvalidPolicyAlias: ARM's code for an alias it does not know
//     (Azure/azure-policy#363). posture's catalog is partial, so this code is
//     only used for warnings, never to reject a definition.
//   - InvalidCreatePolicySetDefinitionRequest: ARM's code for a malformed set
//     (hashicorp/terraform-provider-azurerm#19929).
//   - PolicyDefinitionNotFound: a reference to a definition the registry does
//     not hold (ARM answers 404 with this code for a missing definition;
//     the exact code for a set member is UNCONFIRMED).
//
// The remaining codes are posture's own and say so in their name
// (InvalidPolicyDefinition for a document that is not a definition at all,
// InvalidPolicyAssignment for assignment fields, PolicyEvaluationError for a
// failure while evaluating one resource).
const (
	CodeInvalidPolicyRule          = "InvalidPolicyRule"
	CodeInvalidPolicyParameters    = "InvalidPolicyParameters"
	CodeUndefinedPolicyParameter   = "UndefinedPolicyParameter"
	CodeParameterValueNotAllowed   = "PolicyParameterValueNotAllowed"
	CodeInvalidPolicyAlias         = "InvalidPolicyAlias"
	CodeInvalidPolicySetDefinition = "InvalidCreatePolicySetDefinitionRequest"
	CodePolicyDefinitionNotFound   = "PolicyDefinitionNotFound"
	CodeInvalidPolicyDefinition    = "InvalidPolicyDefinition"
	CodeInvalidPolicyAssignment    = "InvalidPolicyAssignment"
	CodeEvaluationError            = "PolicyEvaluationError"
)

// Error is one problem found in a definition, set definition or assignment,
// or while evaluating a resource. Path is the JSON path of the offending
// element in the document that was parsed (for example
// "properties.policyRule.if.allOf[1].equals"), so an API can point at it.
type Error struct {
	Code    string `json:"code"`
	Path    string `json:"target,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": " + e.Path + ": " + e.Message
}

// Errors is a list of problems, reported together so that an author sees all
// of them at once. It implements error; use errors.As to get at it.
type Errors []*Error

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors: ", len(es))
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// err returns es as an error, or nil when empty, sorted by path for stable
// output.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	return es
}

// ErrorCode returns the code of err (the first one for Errors), or "" when
// err carries none.
func ErrorCode(err error) string {
	var es Errors
	if errors.As(err, &es) && len(es) > 0 {
		return es[0].Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func errorf(code, path, format string, args ...any) *Error {
	return &Error{Code: code, Path: path, Message: fmt.Sprintf(format, args...)}
}

// Warning is a problem that does not stop a definition from being used, such
// as an alias that is not in the catalog and was resolved heuristically.
type Warning struct {
	Code    string `json:"code"`
	Path    string `json:"target,omitempty"`
	Message string `json:"message"`
}

// evalError is an error raised while evaluating one resource. It becomes the
// Error compliance state for that (reference, resource) pair only.
type evalError struct {
	path string // JSON path of the condition in the rule, e.g. "if.allOf[2]"
	msg  string
}

func (e *evalError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

func evalErrorf(format string, args ...any) error {
	return &evalError{msg: fmt.Sprintf(format, args...)}
}

// withPath attaches the rule path to an evaluation error that has none yet.
func withPath(err error, path string) error {
	var ee *evalError
	if errors.As(err, &ee) && ee.path == "" {
		return &evalError{path: path, msg: ee.msg}
	}
	return err
}
