package api

import (
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
)

// apiVersions is the set of api-versions a type accepts. A nil list accepts
// any well-formed version (a real date, ARM's first year onward, not in the
// future, with an optional -preview style suffix): posture stores documents
// of any resource type and cannot know each provider's versions.
type apiVersions []string

// Versions posture serves for its own types and for ARM's containers.
var (
	// PostureAPIVersion is the version of posture's own endpoints (import).
	PostureAPIVersion = "2026-11-01"

	resourceManagerVersions = apiVersions{
		"2014-04-01", "2015-01-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-07-01", "2016-09-01",
		"2017-05-10", "2018-02-01", "2018-05-01", "2019-03-01", "2019-05-01", "2019-05-10", "2019-06-01",
		"2019-07-01", "2019-08-01", "2019-10-01", "2019-11-01", "2020-01-01", "2020-06-01", "2020-08-01",
		"2020-10-01", "2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01", "2022-12-01", "2023-07-01",
		"2024-03-01", "2024-07-01", "2024-11-01", "2025-03-01", "2025-04-01",
	}
	managementGroupVersions = apiVersions{
		"2017-11-01-preview", "2018-01-01-preview", "2018-03-01-preview", "2019-11-01", "2020-02-01",
		"2020-05-01", "2020-10-01", "2021-04-01", "2023-04-01",
	}
	postureVersions = apiVersions{PostureAPIVersion}
)

func (v apiVersions) check(s string, now time.Time) error {
	if s == "" {
		return posture.Errorf(posture.EINVALID, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if v == nil {
		if wellFormed(s, now) {
			return nil
		}
		return posture.Errorf(posture.EINVALID, "InvalidApiVersionParameter", "The api-version '%s' is invalid. Expected a date such as '2024-01-01', optionally with a '-preview' suffix.", clip(s))
	}
	if slices.Contains(v, s) {
		return nil
	}
	latest := slices.Clone(v)
	slices.Reverse(latest)
	return posture.Errorf(posture.EINVALID, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", clip(s), strings.Join(latest, ","))
}

func wellFormed(s string, now time.Time) bool {
	date, suffix, _ := strings.Cut(s, "-preview")
	if suffix != "" {
		return false
	}
	if len(date) > 10 {
		rest := date[10:]
		date = date[:10]
		switch rest {
		case "-alpha", "-beta", "-privatepreview", "-rc":
		default:
			return false
		}
	}
	t, err := time.Parse("2006-01-02", date)
	if err != nil {
		return false
	}
	return t.Year() >= 2014 && !t.After(now.AddDate(0, 1, 0))
}

// clip shortens user input echoed in messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
