package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The shape Microsoft documents for "Send Adaptive Cards using an Incoming
// Webhook", decoded strictly: unknown fields at the envelope are an error.
type teamsEnvelope struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string          `json:"contentType"`
		ContentURL  *string         `json:"contentUrl"`
		Content     json.RawMessage `json:"content"`
	} `json:"attachments"`
}

type teamsCard struct {
	Schema  string `json:"$schema"`
	Type    string `json:"type"`
	Version string `json:"version"`
	Body    []struct {
		Type  string `json:"type"`
		Text  string `json:"text"`
		Wrap  bool   `json:"wrap"`
		Facts []struct {
			Title string `json:"title"`
			Value string `json:"value"`
		} `json:"facts"`
	} `json:"body"`
	Actions []struct {
		Type  string `json:"type"`
		Title string `json:"title"`
		URL   string `json:"url"`
		Style string `json:"style"`
	} `json:"actions"`
}

func decodeTeams(t *testing.T, body []byte) teamsCard {
	t.Helper()
	var env teamsEnvelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("not the documented envelope: %v\n%s", err, body)
	}
	if env.Type != "message" || len(env.Attachments) != 1 {
		t.Fatalf("type %q with %d attachments, want \"message\" with 1", env.Type, len(env.Attachments))
	}
	a := env.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.ContentURL != nil {
		t.Fatalf("attachment contentType %q contentUrl %v", a.ContentType, a.ContentURL)
	}
	if !bytes.Contains(body, []byte(`"contentUrl":null`)) {
		t.Fatal("contentUrl is not sent as null")
	}
	var card teamsCard
	if err := json.Unmarshal(a.Content, &card); err != nil {
		t.Fatal(err)
	}
	if card.Type != "AdaptiveCard" || card.Version != "1.4" || card.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" {
		t.Fatalf("card type %q version %q schema %q", card.Type, card.Version, card.Schema)
	}
	for i, el := range card.Body {
		switch el.Type {
		case "TextBlock":
			if el.Text == "" || !el.Wrap {
				t.Fatalf("body[%d]: TextBlock without text or wrap", i)
			}
		case "FactSet":
			if len(el.Facts) == 0 {
				t.Fatalf("body[%d]: empty FactSet", i)
			}
			for _, f := range el.Facts {
				if f.Title == "" || f.Value == "" {
					t.Fatalf("body[%d]: fact %+v", i, f)
				}
			}
		default:
			t.Fatalf("body[%d]: element type %q is not used by posture", i, el.Type)
		}
	}
	for _, a := range card.Actions {
		// Incoming webhooks do not support Action.Submit.
		if a.Type != "Action.OpenUrl" || a.Title == "" {
			t.Fatalf("action %+v, want Action.OpenUrl with a title", a)
		}
		if u, err := url.Parse(a.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			t.Fatalf("action url %q is not an absolute https URL", a.URL)
		}
	}
	return card
}

func TestTeamsCard(t *testing.T) {
	h := newHookServer(t)
	h.setRespond(answer(200, nil, "1")) // what an Office 365 connector answers
	ch, err := NewTeamsChannel(TeamsConfig{URL: Secret(h.URL + "/webhookb2/guid@tenant/IncomingWebhook/abc/def")})
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Justification = "Compensating control [Approve](https://evil.example/steal) in place.\nSee runbook."
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := h.last(t)
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	if r.Path != "/webhookb2/guid@tenant/IncomingWebhook/abc/def" {
		t.Fatalf("posted to %q", r.Path)
	}
	card := decodeTeams(t, r.Body)

	var titles []string
	for _, a := range card.Actions {
		titles = append(titles, a.Title+"="+a.URL+"/"+a.Style)
	}
	want := []string{
		"Approve=" + m.Links.Approve + "/positive",
		"Reject=" + m.Links.Reject + "/destructive",
		"View in posture=" + m.Links.View + "/",
	}
	if strings.Join(titles, " ") != strings.Join(want, " ") {
		t.Fatalf("actions\n got %q\nwant %q", titles, want)
	}
	facts := map[string]string{}
	var texts []string
	for _, el := range card.Body {
		texts = append(texts, el.Text)
		for _, f := range el.Facts {
			facts[f.Title] = f.Value
		}
	}
	if facts["Resource"] != testVM || facts["Category"] != "Waiver" || facts["Severity"] != "High" || facts["Recommendation"] == "" {
		t.Fatalf("facts %v", facts)
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "Exemption requested") || !strings.Contains(all, "Justification") {
		t.Fatalf("card text lacks the title or justification:\n%s", all)
	}
	// Markdown in user text must not become a link.
	if strings.Contains(string(r.Body), "](https://evil.example") {
		t.Fatal("user Markdown link survives in the card")
	}
}

func TestTeamsDecidedRequestHasOnlyView(t *testing.T) {
	m := requestMessage()
	m.Event, m.Actor, m.Reason = EventRequestRejected, "bob@contoso.example", "Patch is available now."
	body, err := RenderTeams(m)
	if err != nil {
		t.Fatal(err)
	}
	card := decodeTeams(t, body)
	if len(card.Actions) != 1 || card.Actions[0].Title != "View in posture" {
		t.Fatalf("actions %+v, want only View", card.Actions)
	}
	if !strings.Contains(string(body), "Patch is available now.") || !strings.Contains(string(body), "Decided by") {
		t.Fatal("the rejection reason or approver is missing")
	}
}

func TestTeamsClassification(t *testing.T) {
	h := newHookServer(t)
	const token = "IncomingWebhook/5ecret0token/abcd"
	ch, err := NewTeamsChannel(TeamsConfig{URL: Secret(h.URL + "/webhookb2/" + token), Timeout: Duration(300 * time.Millisecond)}, WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	runClassification(t, h, ch.Send, token, "5ecret0token")
}

func TestTeamsThrottleInsideA200(t *testing.T) {
	h := newHookServer(t)
	// Connectors report throttling in the body of a 200 (connectors-using.md).
	h.setRespond(answer(200, nil, "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"))
	ch, err := NewTeamsChannel(TeamsConfig{URL: Secret(h.URL + "/webhookb2/x")})
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeRateLimited || !IsRetryable(err) {
		t.Fatalf("got %v, want a retryable RateLimited", err)
	}
	// Workflows answer 202 with an empty body: that is a success.
	h.setRespond(answer(202, nil, ""))
	if err := ch.Send(context.Background(), requestMessage()); err != nil {
		t.Fatalf("202 from Workflows: %v", err)
	}
}
