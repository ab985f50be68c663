package match

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJSONDepth bounds the nesting of the document (docs §14). A valid
// filter nests at most about 20 levels; the bound keeps a hostile document
// from being walked, while filters a little too deep still get the precise
// depth error of the condition walk.
const maxJSONDepth = 100

// jvalue is a JSON value that keeps what encoding/json's maps lose: the
// order of an object's members and members whose names repeat (docs §2).
type jvalue struct {
	kind jkind
	str  string // string; the literal of a number
	b    bool
	arr  []*jvalue
	obj  []jmember
}

type jmember struct {
	key string
	val *jvalue
}

type jkind uint8

const (
	jnull jkind = iota
	jbool
	jnumber
	jstring
	jarray
	jobject
)

var jkindNames = [...]string{jnull: "null", jbool: "a boolean", jnumber: "a number", jstring: "a string", jarray: "an array", jobject: "an object"}

func (k jkind) String() string { return jkindNames[k] }

var errTooDeep = errors.New("too deep")

// readJSON decodes one JSON document. json.Valid goes first so that syntax
// errors come from the strict scanner with an offset, and the token walk
// then sees only well-formed input.
func readJSON(raw []byte) (*jvalue, error) {
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%s (at byte %d)", se.Error(), se.Offset)
		case err != nil:
			return nil, err
		}
		return nil, errors.New("not valid JSON") // unreachable: Valid and Unmarshal agree
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("there is text after the filter")
	}
	return v, nil
}

func readValue(dec *json.Decoder, depth int) (*jvalue, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			v := &jvalue{kind: jarray}
			for dec.More() {
				e, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token()
			return v, err
		}
		v := &jvalue{kind: jobject}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			e, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			key, _ := k.(string) // always a string in a valid document
			v.obj = append(v.obj, jmember{key, e})
		}
		_, err := dec.Token()
		return v, err
	case string:
		return &jvalue{kind: jstring, str: t}, nil
	case json.Number:
		return &jvalue{kind: jnumber, str: string(t)}, nil
	case bool:
		return &jvalue{kind: jbool, b: t}, nil
	}
	return &jvalue{kind: jnull}, nil
}
