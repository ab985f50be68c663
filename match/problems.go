package match

import (
	"unicode/utf8"

	"github.com/posture/posture"
)

// code is the one error code of a filter that does not parse (docs §15):
// the lead parser reports it for properties.resourceFilter whatever the
// problem, and the message and target say which.
const code = "InvalidResourceFilter"

// maxProblems bounds Details: a hostile filter could otherwise produce one
// problem per byte.
const maxProblems = 50

// problems collects validation failures so a client sees all of them at once.
type problems []*posture.Error

func (p *problems) add(target, format string, args ...any) {
	if len(*p) < maxProblems {
		*p = append(*p, posture.Errorf(posture.EINVALID, code, format, args...).WithTarget(target))
	}
}

// err is posture.Join of the problems.
func (p problems) err() error { return posture.Join(p) }

// join appends a property name to a JSON path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// clip shortens user input echoed in messages.
func clip(s string) string {
	const n = 100
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
