package securitycontact_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/securitycontact"
)

const (
	v2017 = securitycontact.V2017
	v2020 = securitycontact.V2020
	v2023 = securitycontact.V2023

	// The subscription of Azure's examples.
	sub       = "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23"
	defaultID = sub + "/providers/Microsoft.Security/securityContacts/default"
)

var versions = []string{v2017, v2020, v2023}

// example is an x-ms-examples file of the REST spec.
type example struct {
	Parameters struct {
		APIVersion          string          `json:"api-version"`
		SecurityContactName string          `json:"securityContactName"`
		SecurityContact     json.RawMessage `json:"securityContact"`
	} `json:"parameters"`
	Responses map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

func loadExample(t *testing.T, path string) example {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	var e example
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

// problems returns the errors err reports: itself, or its Details when
// there are several. It fails unless err is an EINVALID *posture.Error.
func problems(t *testing.T, err error) []*posture.Error {
	t.Helper()
	var e *posture.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *posture.Error", err, err)
	}
	if e.Kind != posture.EINVALID {
		t.Fatalf("kind %q, want %q", e.Kind, posture.EINVALID)
	}
	if len(e.Details) > 0 {
		return e.Details
	}
	return []*posture.Error{e}
}

// codeTarget is an expected problem.
type codeTarget struct{ code, target string }

func codeTargets(t *testing.T, err error) []codeTarget {
	t.Helper()
	var out []codeTarget
	for _, p := range problems(t, err) {
		out = append(out, codeTarget{p.Code, p.Target})
	}
	return out
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func mustParse(t *testing.T, name, body, version string) *securitycontact.Contact {
	t.Helper()
	c, err := securitycontact.Parse(name, []byte(body), version)
	if err != nil {
		t.Fatalf("Parse(%q, %s, %s): %v", name, body, version, err)
	}
	return c
}
