package notify

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps any wait a server asks for, so that a misbehaving or
// hostile endpoint cannot park a job for ever (or overflow a Duration).
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads an HTTP Retry-After value: either delay-seconds (a
// non-negative decimal integer) or an HTTP-date, RFC 9110 §10.2.3. A date in
// the past means "now" (0, true). Anything else is not understood (0, false).
// The result is capped at MaxRetryAfter.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if isDigits(value) {
		secs, err := strconv.ParseUint(value, 10, 64)
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			// Too many digits for a uint64 is still a valid, huge delay.
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return untilCapped(when, now), true
}

// parseRateLimitReset reads X-RateLimit-Reset, which services fill in
// differently: Jira Cloud sends an ISO 8601 time ("2025-01-02T15:04Z",
// developer.atlassian.com/cloud/jira/platform/rate-limiting), ServiceNow a
// UNIX timestamp in seconds (servicenow.com docs, "Inbound REST API rate
// limiting"). It is only consulted when Retry-After is absent.
func parseRateLimitReset(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if isDigits(value) {
		secs, err := strconv.ParseInt(value, 10, 64)
		if err != nil || secs > 1<<40 {
			return MaxRetryAfter, true
		}
		return untilCapped(time.Unix(secs, 0), now), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if when, err := time.Parse(layout, value); err == nil {
			return untilCapped(when, now), true
		}
	}
	return 0, false
}

// retryAfterFrom reads the wait a response asks for: Retry-After first, then
// X-RateLimit-Reset.
func retryAfterFrom(h http.Header, now time.Time) time.Duration {
	if d, ok := ParseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	if d, ok := parseRateLimitReset(h.Get("X-RateLimit-Reset"), now); ok {
		return d
	}
	return 0
}

func untilCapped(when, now time.Time) time.Duration {
	d := when.Sub(now)
	switch {
	case d < 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
