package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SubjectPrefix starts every subject and title, as "Azure Security Center"
// does in the Request-ResourceExemption playbook.
const SubjectPrefix = "posture"

// content is what every renderer shows, worked out once so that e-mail,
// Teams, Slack and tickets say the same thing.
type content struct {
	Subject string   // one line, the e-mail subject and ticket summary
	Title   string   // the headline of cards
	Intro   string   // one or two sentences saying what happened and what to do
	Facts   []fact   // label/value pairs
	Actions []action // buttons, in display order
}

type fact struct {
	Label string
	Value string // may contain newlines (justification, resource lists)
	URL   string // when the value should link somewhere (the ticket)
}

type action struct {
	ID    string // approve, reject, renew, view
	Title string
	URL   string
	Style string // "positive", "destructive" or "" (channels map it to their own words)
}

// newContent builds the content of a valid message.
func newContent(m *Message) content {
	target := targetPhrase(m)
	rec := oneLine(m.Recommendation)
	if rec == "" {
		rec = oneLine(m.AssessmentKey)
	}
	// User names and addresses are shown as given, never re-cased; only the
	// stand-ins for missing names differ at the start of a sentence.
	requester := orDefault(oneLine(m.Requester), "someone")
	requesterFirst := orDefault(oneLine(m.Requester), "Someone")
	actorFirst := orDefault(oneLine(m.Actor), "An approver")
	var c content
	switch m.Event {
	case EventRequestCreated:
		c.Subject = fmt.Sprintf("Exemption request for %s", target)
		c.Title = "Exemption requested"
		c.Intro = fmt.Sprintf("%s asks to exempt %s from the recommendation “%s”. Review the justification, then approve or reject.", requesterFirst, target, rec)
	case EventRequestApproved:
		c.Subject = fmt.Sprintf("Exemption request approved for %s", target)
		c.Title = "Exemption request approved"
		c.Intro = fmt.Sprintf("%s approved the request by %s to exempt %s from “%s”.", actorFirst, requester, target, rec)
	case EventRequestRejected:
		c.Subject = fmt.Sprintf("Exemption request rejected for %s", target)
		c.Title = "Exemption request rejected"
		c.Intro = fmt.Sprintf("%s rejected the request by %s to exempt %s from “%s”. The recommendation still applies.", actorFirst, requester, target, rec)
	case EventRequestExpired:
		c.Subject = fmt.Sprintf("Exemption request expired undecided for %s", target)
		c.Title = "Exemption request expired"
		c.Intro = fmt.Sprintf("Nobody decided the request by %s to exempt %s from “%s” in time, so it lapsed. No exemption was created; ask again if it is still needed.", requester, target, rec)
	case EventExemptionCreated:
		c.Subject = fmt.Sprintf("Exemption created for %s", target)
		c.Title = "Exemption created"
		c.Intro = fmt.Sprintf("%s is now exempt from “%s”.", capitalize(target), rec)
	case EventExemptionExpiring:
		c.Subject = fmt.Sprintf("Exemption expiring %s for %s", formatDay(m.ExpiresOn), target)
		c.Title = "Exemption expires on " + formatDay(m.ExpiresOn)
		c.Intro = fmt.Sprintf("The exemption of %s from “%s” expires on %s. Renew it with a fresh justification, or let it lapse and the recommendation applies again.", target, rec, formatTime(m.ExpiresOn))
	case EventExemptionExpired:
		c.Subject = fmt.Sprintf("Exemption expired for %s", target)
		c.Title = "Exemption expired"
		c.Intro = fmt.Sprintf("The exemption of %s from “%s” has expired; the recommendation applies again.", target, rec)
	case EventExemptionNeedsReview:
		c.Subject = fmt.Sprintf("Exemption needs review for %s", target)
		c.Title = "Exemption needs review"
		c.Intro = fmt.Sprintf("What the exemption of %s from “%s” excused has changed since it was approved. It is honoured until %s; renew it if it still holds, or let it lapse and the recommendation applies again.", target, rec, formatTime(m.ExpiresOn))
	}
	c.Subject = oneLine(SubjectPrefix + " | " + c.Subject)
	c.Facts = facts(m)
	c.Actions = actions(m)
	return c
}

func facts(m *Message) []fact {
	var fs []fact
	add := func(label, value string) {
		if value != "" {
			fs = append(fs, fact{Label: label, Value: value})
		}
	}
	add("Request", oneLine(m.RequestID))
	add("Requester", oneLine(m.Requester))
	if m.Event == EventRequestApproved || m.Event == EventRequestRejected {
		add("Decided by", oneLine(m.Actor))
		add("Reason", multiLine(m.Reason))
	}
	if m.Event == EventExemptionNeedsReview {
		add("What changed", multiLine(m.Reason))
	}
	switch {
	case len(m.Resources) == 1:
		add("Resource", oneLine(m.Resources[0]))
	case len(m.Resources) > 1:
		lines := make([]string, len(m.Resources))
		for i, r := range m.Resources {
			lines[i] = oneLine(r)
		}
		add(fmt.Sprintf("Resources (%d)", len(m.Resources)), strings.Join(lines, "\n"))
	}
	add("Scope", oneLine(m.Scope))
	add("Recommendation", oneLine(m.Recommendation))
	add("Assessment key", oneLine(m.AssessmentKey))
	add("Severity", oneLine(m.Severity))
	add("Category", string(m.Category))
	add("Justification", multiLine(m.Justification))
	expiryLabel := "Expires"
	switch m.Event {
	case EventRequestCreated, EventRequestExpired:
		expiryLabel = "Requested expiry"
	case EventExemptionNeedsReview:
		expiryLabel = "Honoured until"
	}
	if m.ExpiresOn.IsZero() {
		if m.Event == EventRequestCreated {
			// Open-ended waivers are what auditors ask about; say so plainly.
			add(expiryLabel, "none (never expires)")
		}
	} else {
		add(expiryLabel, formatTime(m.ExpiresOn))
	}
	add("Exemption", oneLine(m.ExemptionID))
	if m.Ticket != nil && m.Ticket.Key != "" {
		fs = append(fs, fact{Label: "Ticket", Value: oneLine(m.Ticket.Key), URL: m.Ticket.URL})
	}
	return fs
}

func actions(m *Message) []action {
	var as []action
	add := func(id, title, url, style string) {
		if url != "" {
			as = append(as, action{ID: id, Title: title, URL: url, Style: style})
		}
	}
	switch m.Event {
	case EventRequestCreated:
		// Approve and reject only while the request is open: a stale mail
		// must not offer a decision that was already taken.
		add("approve", "Approve", m.Links.Approve, "positive")
		add("reject", "Reject", m.Links.Reject, "destructive")
	case EventExemptionExpiring, EventExemptionExpired, EventExemptionNeedsReview:
		add("renew", "Renew", m.Links.Renew, "positive")
	}
	add("view", "View in posture", m.Links.View, "")
	return as
}

func targetPhrase(m *Message) string {
	switch {
	case len(m.Resources) == 1:
		return "resource " + oneLine(m.Resources[0])
	case len(m.Resources) > 1:
		return fmt.Sprintf("%d resources", len(m.Resources))
	}
	return "scope " + oneLine(m.Scope)
}

// oneLine turns control characters (CR and LF included) into spaces, so that
// user text cannot add mail headers or break a subject.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// multiLine keeps newlines and tabs but drops other control characters.
func multiLine(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
func formatDay(t time.Time) string  { return t.UTC().Format("2006-01-02") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// truncate shortens s to at most max runes, marking the cut with "…".
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return string([]rune(s)[:max])
	}
	return string([]rune(s)[:max-1]) + "…"
}
