package sqlstore

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/posture/posture"
)

// scanStates decodes what encodeStates wrote without reflection: listing
// assessments decodes a state column per row, and encoding/json was half
// of a page's time. It reports false on anything it does not expect, and
// the caller falls back to encoding/json.
func scanStates(text string) ([]posture.PolicyState, bool) {
	s := stateScanner{text: text}
	if !s.byte('[') {
		return nil, false
	}
	out := make([]posture.PolicyState, 0, strings.Count(text, "],[")+1)
	if s.byte(']') {
		return out, s.i == len(s.text)
	}
	for {
		var st posture.PolicyState
		var first, changed int64
		ok := s.byte('[') &&
			s.str(&st.ReferenceID) && s.byte(',') && s.str(&st.State) && s.byte(',') &&
			s.str(&st.Effect) && s.byte(',') && s.str(&st.Error) && s.byte(',') &&
			s.int(&first) && s.byte(',') && s.int(&changed)
		if !ok {
			return nil, false
		}
		if s.byte(',') {
			var until int64
			if !(s.str(&st.Exemption) && s.byte(',') && s.str(&st.ExemptionCategory) && s.byte(',') && s.int(&until) && s.byte(']')) || st.Exemption == "" {
				return nil, false
			}
			st.ExemptUntil = fromMicros(until)
		} else if !s.byte(']') {
			return nil, false
		}
		st.FirstEvaluated, st.ChangedAt = fromMicros(first), fromMicros(changed)
		out = append(out, st)
		if s.byte(']') {
			return out, s.i == len(s.text)
		}
		if !s.byte(',') {
			return nil, false
		}
	}
}

type stateScanner struct {
	text string
	i    int
}

func (s *stateScanner) byte(c byte) bool {
	if s.i < len(s.text) && s.text[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a JSON string; escaped ones go through encoding/json.
func (s *stateScanner) str(dst *string) bool {
	if !s.byte('"') {
		return false
	}
	start, escaped := s.i, false
	for ; s.i < len(s.text); s.i++ {
		switch c := s.text[s.i]; {
		case c == '\\':
			escaped = true
			s.i++
		case c == '"':
			raw := s.text[start:s.i]
			s.i++
			if !escaped && utf8.ValidString(raw) {
				*dst = raw
				return true
			}
			return json.Unmarshal([]byte(`"`+raw+`"`), dst) == nil
		case c < 0x20:
			return false
		}
	}
	return false
}

// int reads a non-negative integer (Unix microseconds).
func (s *stateScanner) int(dst *int64) bool {
	start := s.i
	var n int64
	for s.i < len(s.text) && s.text[s.i] >= '0' && s.text[s.i] <= '9' && s.i-start < 18 {
		n = n*10 + int64(s.text[s.i]-'0')
		s.i++
	}
	*dst = n
	if s.i-start > 1 && s.text[start] == '0' {
		return false // JSON has no leading zeros
	}
	return s.i > start && (s.i == len(s.text) || s.text[s.i] < '0' || s.text[s.i] > '9')
}
