package desired

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem codes. Each kind of mistake has its own code so that the CLI and
// tests can tell them apart; the message says what to change.
const (
	CodeFileTooLarge       = "FileTooLarge"
	CodeTooManyEntries     = "TooManyEntries"
	CodeReadError          = "ReadError"
	CodeEmptyFile          = "EmptyFile"
	CodeInvalidEncoding    = "InvalidEncoding"
	CodeInvalidYAML        = "InvalidYAML"
	CodeInvalidJSON        = "InvalidJSON"
	CodeInvalidCSV         = "InvalidCSV"
	CodeUnsupportedYAML    = "UnsupportedYAML" // aliases, several documents
	CodeNotAnObject        = "NotAnObject"     // the top level is not an object
	CodeUnknownField       = "UnknownField"
	CodeUnsupportedField   = "UnsupportedField"   // known, but not read (EPAC report columns)
	CodeUnsupportedFeature = "UnsupportedFeature" // EPAC scope labels and patterns
	CodeDuplicateField     = "DuplicateField"
	CodeWrongType          = "WrongType"
	CodeMissingField       = "MissingField"
	CodeConflictingFields  = "ConflictingFields"
	CodeReferenceIDs       = "ReferenceIdsWithoutAssignment"
	CodeInvalidReferenceID = "InvalidReferenceId"
	CodeDuplicateReference = "DuplicateReferenceId"
	CodeInvalidName        = "InvalidName"
	CodeTooLong            = "TooLong"
	CodeInvalidCategory    = "InvalidCategory"
	CodeInvalidScope       = "InvalidScope"
	CodeDuplicateScope     = "DuplicateScope"
	CodeListSeparator      = "ListSeparator" // a comma in an EPAC CSV list cell
	CodeInvalidAssignment  = "InvalidAssignmentId"
	CodeInvalidDefinition  = "InvalidPolicyDefinition"
	CodeInvalidRecommend   = "InvalidRecommendation"
	CodeInvalidExpiresOn   = "InvalidExpiresOn"
	CodeExpiryInPast       = "ExpiryInPast"
	CodeInvalidValidation  = "InvalidAssignmentScopeValidation"
	CodeDuplicateName      = "DuplicateName"
)

// Pos is a place in a desired-state file. Line and Column count from 1;
// Column is in characters. Column is 0 when the parser gave only a line
// (YAML syntax errors), Line is 0 when there is no content to point at (a
// file that could not be read).
type Pos struct {
	File         string
	Line, Column int
}

// String returns "file:line:column", leaving out what is unknown.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s
}

// Problem is one mistake in a desired-state file. Field is the path of the
// field as written in the file, such as exemptions[3].expiresOn (for CSV
// files, the column's name), or "" for the file as a whole.
type Problem struct {
	Pos     Pos
	Field   string
	Code    string
	Message string
}

func (p Problem) Error() string {
	if p.Field == "" {
		return fmt.Sprintf("%s: %s: %s", p.Pos, p.Code, p.Message)
	}
	return fmt.Sprintf("%s: %s: %s: %s", p.Pos, p.Field, p.Code, p.Message)
}

// Problems are all the mistakes found, sorted by file and position.
type Problems []Problem

// Err returns nil when there are no problems, else the problems as one
// error (one line each).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a Problem.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// sort orders problems by file, line and column, keeping the order in which
// they were found for the same place.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
}

func (ps *Problems) add(pos Pos, field, code, format string, args ...any) {
	*ps = append(*ps, Problem{Pos: pos, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}
