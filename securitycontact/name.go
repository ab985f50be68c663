package securitycontact

import (
	"strings"

	"github.com/posture/posture"
)

// DefaultName is the name of the subscription's contact, and from
// 2020-01-01-preview on the only name: the securityContactName enum and
// pattern ^(default)$ (7 characters) of 2023-12-01-preview, and Azure's
// answer to any other name ("the only valid name for security contact is
// 'default'"; SOURCE.md).
const DefaultName = "default"

// maxLegacyNameLen bounds 2017-08-01-preview names. The spec gives no rule;
// the limit and the character set are posture's (SOURCE.md).
const maxLegacyNameLen = 90

// CanonicalName checks the contact name of a request at apiVersion and
// returns the name the resource is stored and shown under.
//
// "default" in any case is DefaultName at every version: the 2020 spec's
// enum spelled it "Default", the 2023 spec and the Go SDK "default", and
// ARM names ignore case. At 2020-01-01-preview and later no other name is
// valid. At 2017-08-01-preview other names are legacy contacts, separate
// resources that only that version lists: 1 to 90 letters, digits, '.',
// '-' or '_', starting with a letter or digit and not ending with '.'. They
// are returned as given; the store compares them ignoring case.
func CanonicalName(name, apiVersion string) (string, error) {
	if strings.EqualFold(name, DefaultName) {
		return DefaultName, nil
	}
	if shape(apiVersion) != V2017 {
		return "", posture.Errorf(posture.EINVALID, codeName,
			"The security contact name '%s' is invalid: from api-version %s on, the only valid name for a security contact is '%s'.",
			clip(name), V2020, DefaultName).WithTarget("name")
	}
	if !legacyName(name) {
		return "", posture.Errorf(posture.EINVALID, codeName,
			"The security contact name '%s' is invalid: it must have 1 to %d letters, digits, '.', '-' or '_', start with a letter or digit and not end with '.'.",
			clip(name), maxLegacyNameLen).WithTarget("name")
	}
	return name, nil
}

func legacyName(name string) bool {
	if name == "" || len(name) > maxLegacyNameLen || strings.HasSuffix(name, ".") {
		return false
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune(".-_", r)) {
			return false
		}
	}
	return true
}
