// Package armdoc reads ARM documents: it streams them out of the shapes
// people have at hand (ARM GET bodies, arrays of them, {"value":[…]} lists,
// Resource Graph results from `az graph query` or the REST API) and turns one
// document into a posture.Resource with its indexed columns, rejecting what
// does not belong in the estate with a coded error.
package armdoc

import (
	"bytes"
	"encoding/json"
)

// field is one top-level member of a JSON object, its value kept raw.
type field struct {
	key string
	raw json.RawMessage
}

// object is a JSON object whose top-level members keep their order, so that
// documents come back out the way they went in.
type object []field

// parseObject splits a JSON object into its top-level members without
// decoding the values, and reports whether it is compact. It fails on
// anything that is not exactly one JSON object.
func parseObject(b []byte) (object, bool, error) {
	if !json.Valid(b) {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, false, err
		}
		return nil, false, errTrailing
	}
	return splitTop(b)
}

// get returns the raw value of key (exact match first, then ignoring case,
// since ARM treats property names case-insensitively).
func (o object) get(key string) json.RawMessage {
	for _, f := range o {
		if f.key == key {
			return f.raw
		}
	}
	for _, f := range o {
		if len(f.key) == len(key) && bytes.EqualFold([]byte(f.key), []byte(key)) {
			return f.raw
		}
	}
	return nil
}

// getString returns the string value of key, "" when absent or not a string.
func (o object) getString(key string) string {
	if raw := o.get(key); len(raw) > 0 && raw[0] == '"' {
		return unquote(raw)
	}
	return ""
}

// set replaces key's value, or appends key.
func (o *object) set(key string, v any) {
	raw, _ := json.Marshal(v) // strings and maps of strings always marshal
	for i, f := range *o {
		if f.key == key {
			(*o)[i].raw = raw
			return
		}
	}
	*o = append(*o, field{key, raw})
}

// del removes key.
func (o *object) del(key string) {
	out := (*o)[:0]
	for _, f := range *o {
		if f.key != key {
			out = append(out, f)
		}
	}
	*o = out
}

// delFold removes key in every spelling.
func (o *object) delFold(key string) {
	out := (*o)[:0]
	for _, f := range *o {
		if len(f.key) != len(key) || !bytes.EqualFold([]byte(f.key), []byte(key)) {
			out = append(out, f)
		}
	}
	*o = out
}

// setFold sets key to v and drops its spellings in other cases: ARM reads
// names case-insensitively, so "id" beside "Id" would be one property
// twice, with two values. It reports whether it dropped one.
func (o *object) setFold(key string, v any) bool {
	dropped := false
	out := (*o)[:0]
	for _, f := range *o {
		if f.key != key && len(f.key) == len(key) && bytes.EqualFold([]byte(f.key), []byte(key)) {
			dropped = true
			continue
		}
		out = append(out, f)
	}
	*o = out
	o.set(key, v)
	return dropped
}

// front moves the named keys, in that order, before all others.
func (o object) front(keys ...string) object {
	out := make(object, 0, len(o))
	for _, k := range keys {
		for _, f := range o {
			if f.key == k {
				out = append(out, f)
			}
		}
	}
	for _, f := range o {
		keep := true
		for _, k := range keys {
			if f.key == k {
				keep = false
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}

// marshal writes the object compactly.
func (o object) marshal() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		_ = json.Compact(&b, f.raw) // raw came from the decoder or json.Marshal: valid JSON
	}
	b.WriteByte('}')
	return b.Bytes()
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
