package kql

import (
	"errors"
	"fmt"
	"strings"
)

// Code is an ARG-style error detail code. Callers map codes to HTTP statuses;
// the engine never decides transport.
type Code string

// Error codes. The first group are the detail codes Azure Resource Graph
// returns; the rest are posture's own, named in the same style.
const (
	CodeParserFailure         Code = "ParserFailure"                     // syntax error; positioned.
	CodeInvalidQuery          Code = "InvalidQuery"                      // semantic error (unknown column, type mismatch); positioned.
	CodeUnsupportedJoinFlavor Code = "UnsupportedJoinFlavor"             // join kind not allowed in this mode.
	CodeTooManyRemoteTables   Code = "DisallowedMaxNumberOfRemoteTables" // join/union limits of ARG.
	CodeTooManyJoins          Code = "DisallowedMaxNumberOfJoins"        // more joins than allowed.
	CodeTooManyUnionLegs      Code = "DisallowedMaxNumberOfUnionLegs"    // more union legs than allowed.
	CodeTooManyMvExpand       Code = "DisallowedMaxNumberOfMvExpand"     // more mv-expand operators than allowed.
	CodePayloadTooLarge       Code = "ResponsePayloadTooLarge"           // memory or output-bytes budget exceeded.
	CodeRowLimitExceeded      Code = "ResultRowLimitExceeded"            // row budget exceeded.
	CodeTimeout               Code = "QueryTimeout"                      // deadline reached.
	CodeCanceled              Code = "QueryCanceled"                     // caller canceled the context.
	CodeUnsupportedFunction   Code = "UnsupportedFunction"               // a KQL function posture does not implement.
	CodeUnsupportedOperator   Code = "UnsupportedOperator"               // a KQL tabular operator posture does not implement.
	CodeUnsupportedLet        Code = "UnsupportedLetStatement"           // let in strict ARG mode.
	CodeUnknownTable          Code = "UnknownTable"                      // table not in the catalog.
	CodeInternal              Code = "InternalError"                     // a bug: a recovered panic.
	CodeInvalidArgument       Code = "InvalidArgument"                   // bad option passed by the Go caller.
)

// Error is the one error type of package kql. Line and Column are 1-based and
// zero when the error has no position. Details holds further errors of the
// same query (a parse accumulates them; the first is repeated in the outer
// fields so callers that read only one error still get the first problem).
type Error struct {
	Code    Code
	Message string
	Line    int
	Column  int
	Offset  int // byte offset into the query text; -1 when not positioned.
	Details []*Error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d, column %d", e.Line, e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if len(e.Details) > 1 {
		fmt.Fprintf(&b, " (and %d more)", len(e.Details)-1)
	}
	return b.String()
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and ""
// otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Offset: -1}
}

// positioned returns an *Error located at byte offset pos of src.
func positioned(src string, pos int, code Code, format string, args ...any) *Error {
	e := newError(code, format, args...)
	e.Offset = pos
	e.Line, e.Column = lineColumn(src, pos)
	return e
}

// lineColumn converts a byte offset to a 1-based line and a 1-based column
// counted in runes, the way an editor shows it.
func lineColumn(src string, pos int) (int, int) {
	if pos < 0 {
		return 0, 0
	}
	if pos > len(src) {
		pos = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:pos] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
