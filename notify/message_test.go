package notify

import (
	"strings"
	"testing"
	"time"
)

const testVM = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01"

// requestMessage is a complete exemption-request notice, the message every
// channel test sends.
func requestMessage() *Message {
	return &Message{
		ID:             "evt-0001",
		Event:          EventRequestCreated,
		OccurredAt:     time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		RequestID:      "req-42",
		Requester:      "alice@contoso.example",
		Resources:      []string{testVM},
		Recommendation: "Machines should have vulnerability findings resolved",
		AssessmentKey:  "1195afff-c881-495e-9bc5-1486211ae03f",
		Severity:       "High",
		Category:       CategoryWaiver,
		Justification:  "Legacy appliance <script>alert(1)</script> & vendor patch due in Q3.\nTracked by the vendor.",
		ExpiresOn:      time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC),
		Links: Links{
			View:    "https://posture.example/requests/req-42",
			Approve: "https://posture.example/requests/req-42/approve?sig=abc&exp=1790000000",
			Reject:  "https://posture.example/requests/req-42/reject?sig=def&exp=1790000000",
		},
		Recipients: []string{"secops@contoso.example"},
	}
}

func TestValidateRejects(t *testing.T) {
	cases := map[string]func(m *Message){
		"empty id":            func(m *Message) { m.ID = "" },
		"id with space":       func(m *Message) { m.ID = "evt 1" },
		"unknown event":       func(m *Message) { m.Event = "posture.something" },
		"bad category":        func(m *Message) { m.Category = "Accepted" },
		"no target":           func(m *Message) { m.Resources = nil; m.Scope = "" },
		"blank resource":      func(m *Message) { m.Resources = []string{" "} },
		"no recommendation":   func(m *Message) { m.Recommendation = ""; m.AssessmentKey = "" },
		"no request id":       func(m *Message) { m.RequestID = "" },
		"javascript link":     func(m *Message) { m.Links.Approve = "javascript:alert(1)" },
		"relative link":       func(m *Message) { m.Links.View = "/requests/req-42" },
		"link with quote":     func(m *Message) { m.Links.View = `https://x.example/"onmouseover=1` },
		"overlong link":       func(m *Message) { m.Links.View = "https://x.example/" + strings.Repeat("a", 3000) },
		"bad recipient":       func(m *Message) { m.Recipients = []string{"not an address"} },
		"ticket link scheme":  func(m *Message) { m.Ticket = &TicketRef{Key: "SEC-1", URL: "ftp://x.example/SEC-1"} },
		"expiring, no expiry": func(m *Message) { m.Event = EventExemptionExpiring; m.ExpiresOn = time.Time{} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := requestMessage()
			mutate(m)
			if err := m.Validate(); err == nil {
				t.Fatal("Validate accepted the message")
			}
		})
	}
	if err := requestMessage().Validate(); err != nil {
		t.Fatalf("the complete message is refused: %v", err)
	}
}

func TestParseAddressList(t *testing.T) {
	got, err := ParseAddressList(" secops@contoso.example; Bob <bob@contoso.example>;;ciso@contoso.example, ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"secops@contoso.example", "bob@contoso.example", "ciso@contoso.example"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := ParseAddressList("secops@contoso.example; nonsense"); err == nil {
		t.Fatal("an invalid address was accepted")
	}
}

func TestSubjects(t *testing.T) {
	m := requestMessage()
	cases := []struct {
		event Event
		want  string
	}{
		{EventRequestCreated, "posture | Exemption request for resource " + testVM},
		{EventRequestApproved, "posture | Exemption request approved for resource " + testVM},
		{EventRequestRejected, "posture | Exemption request rejected for resource " + testVM},
		{EventRequestExpired, "posture | Exemption request expired undecided for resource " + testVM},
		{EventExemptionCreated, "posture | Exemption created for resource " + testVM},
		{EventExemptionExpiring, "posture | Exemption expiring 2026-09-30 for resource " + testVM},
		{EventExemptionExpired, "posture | Exemption expired for resource " + testVM},
	}
	for _, c := range cases {
		m.Event = c.event
		if got := newContent(m).Subject; got != c.want {
			t.Errorf("%s: subject %q, want %q", c.event, got, c.want)
		}
	}
	m.Event = EventRequestCreated
	m.Resources = []string{testVM, testVM + "2", testVM + "3"}
	if got := newContent(m).Subject; got != "posture | Exemption request for 3 resources" {
		t.Errorf("several resources: %q", got)
	}
	m.Resources, m.Scope = nil, "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	if got := newContent(m).Subject; got != "posture | Exemption request for scope /subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590" {
		t.Errorf("scope: %q", got)
	}
}

func TestSubjectCannotInjectHeaders(t *testing.T) {
	m := requestMessage()
	m.Resources = []string{testVM + "\r\nBcc: victim@example.com"}
	if s := newContent(m).Subject; strings.ContainsAny(s, "\r\n") {
		t.Fatalf("subject keeps a line break: %q", s)
	}
}

func TestActionsFollowTheEvent(t *testing.T) {
	m := requestMessage()
	m.Links.Renew = "https://posture.example/exemptions/ex-1/renew?sig=x"
	ids := func() string {
		var s []string
		for _, a := range newContent(m).Actions {
			s = append(s, a.ID)
		}
		return strings.Join(s, ",")
	}
	if got := ids(); got != "approve,reject,view" {
		t.Errorf("request created: %s", got)
	}
	// A decided request must not offer the decision again.
	m.Event = EventRequestApproved
	if got := ids(); got != "view" {
		t.Errorf("request approved: %s", got)
	}
	m.Event = EventExemptionExpiring
	if got := ids(); got != "renew,view" {
		t.Errorf("expiring: %s", got)
	}
}
