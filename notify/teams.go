package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// The Teams payload follows "Send Adaptive Cards using an Incoming Webhook"
// (learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using,
// MicrosoftDocs/msteams-docs msteams-platform/webhooks-and-connectors/how-to/connectors-using.md):
// "type" must be "message", "attachments" holds the cards, each with
// "contentType" "application/vnd.microsoft.card.adaptive" and the card as
// "content". Webhooks support Action.OpenUrl but not Action.Submit, so the
// approve and reject buttons open posture's signed links. Workflows
// ("Post to a channel when a webhook request is received"), which replace
// Office 365 connectors, accept the same body.

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"` // null, as in Microsoft's example
	Content     adaptiveCard `json:"content"`
}

// adaptiveCard is the subset of the Adaptive Card schema
// (adaptivecards.io/explorer) posture uses: TextBlock, FactSet, Action.OpenUrl.
type adaptiveCard struct {
	Schema  string            `json:"$schema"`
	Type    string            `json:"type"`
	Version string            `json:"version"`
	Body    []cardElement     `json:"body"`
	Actions []cardAction      `json:"actions,omitempty"`
	MSTeams map[string]string `json:"msteams,omitempty"`
}

type cardElement struct {
	Type     string     `json:"type"` // TextBlock or FactSet
	Text     string     `json:"text,omitempty"`
	Wrap     bool       `json:"wrap,omitempty"`
	Size     string     `json:"size,omitempty"`
	Weight   string     `json:"weight,omitempty"`
	IsSubtle bool       `json:"isSubtle,omitempty"`
	Spacing  string     `json:"spacing,omitempty"`
	Facts    []cardFact `json:"facts,omitempty"`
}

type cardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type cardAction struct {
	Type  string `json:"type"` // Action.OpenUrl
	Title string `json:"title"`
	URL   string `json:"url"`
	Style string `json:"style,omitempty"` // positive, destructive (Adaptive Cards 1.2+)
}

const (
	adaptiveCardContentType = "application/vnd.microsoft.card.adaptive"
	adaptiveCardVersion     = "1.4"
)

// RenderTeams renders m as a Teams incoming-webhook body holding one
// Adaptive Card 1.4.
func RenderTeams(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := newContent(m)
	card := adaptiveCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: adaptiveCardVersion,
		MSTeams: map[string]string{"width": "Full"},
		Body: []cardElement{
			{Type: "TextBlock", Text: teamsText(c.Title), Size: "Medium", Weight: "Bolder", Wrap: true},
			{Type: "TextBlock", Text: teamsText(c.Intro), Wrap: true},
		},
	}
	// Single-line facts go in one FactSet; long or multi-line ones (the
	// justification, a resource list) read better as their own blocks.
	facts := cardElement{Type: "FactSet"}
	var long []cardElement
	for _, f := range c.Facts {
		value := teamsText(f.Value)
		if f.URL != "" {
			value = "[" + value + "](" + f.URL + ")"
		}
		if strings.Contains(f.Value, "\n") || len(f.Value) > 200 {
			long = append(long,
				cardElement{Type: "TextBlock", Text: f.Label, Weight: "Bolder", Wrap: true, Spacing: "Medium"},
				// In Adaptive Card markdown a single newline is not a break.
				cardElement{Type: "TextBlock", Text: strings.ReplaceAll(value, "\n", "\n\n"), Wrap: true, Spacing: "None"})
			continue
		}
		facts.Facts = append(facts.Facts, cardFact{Title: f.Label, Value: value})
	}
	if len(facts.Facts) > 0 {
		card.Body = append(card.Body, facts)
	}
	card.Body = append(card.Body, long...)
	for _, a := range c.Actions {
		card.Actions = append(card.Actions, cardAction{Type: "Action.OpenUrl", Title: a.Title, URL: a.URL, Style: a.Style})
	}
	return json.Marshal(teamsMessage{
		Type:        "message",
		Attachments: []teamsAttachment{{ContentType: adaptiveCardContentType, Content: card}},
	})
}

// teamsText keeps user text from turning into links: Adaptive Card text is
// Markdown, and "[Approve](https://evil.example)" in a justification would
// otherwise render as a convincing link. A zero-width space breaks "](".
func teamsText(s string) string {
	return strings.ReplaceAll(s, "](", "]\u200b(")
}

// TeamsChannel posts Adaptive Cards to a Teams incoming webhook.
type TeamsChannel struct {
	url    string
	poster *poster
}

// NewTeamsChannel checks cfg and prepares a channel.
func NewTeamsChannel(cfg TeamsConfig, opts ...Option) (*TeamsChannel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	scrub := newScrubber()
	scrub.scrubURL(string(cfg.URL))
	return &TeamsChannel{url: string(cfg.URL), poster: newPoster("teams", timeoutOr(cfg.Timeout, defaultHTTPTimeout), opts, scrub)}, nil
}

// Name identifies the channel in errors and logs.
func (c *TeamsChannel) Name() string { return "teams" }

// teamsEmbeddedStatus finds the status Office 365 connectors report inside a
// 200 answer: "connectors do not throw 429s", the body says
// "Microsoft Teams endpoint returned HTTP error 429" (connectors-using.md,
// "Rate limiting for connectors").
var teamsEmbeddedStatus = regexp.MustCompile(`HTTP error (\d{3})`)

// Send posts m as an Adaptive Card.
func (c *TeamsChannel) Send(ctx context.Context, m *Message) error {
	body, err := RenderTeams(m)
	if err != nil {
		return invalidMessage("teams", err)
	}
	req, err := newJSONRequest(http.MethodPost, c.url, body)
	if err != nil {
		return c.poster.badResponse("send", redactURL(c.url), "%v", err)
	}
	resp, err := c.poster.do(ctx, "send", req)
	if err != nil {
		return err
	}
	if sm := teamsEmbeddedStatus.FindSubmatch(resp.Body); sm != nil {
		status, _ := strconv.Atoi(string(sm[1]))
		if status >= 400 {
			e := statusError("teams", "send", redactURL(c.url), status, resp.Header, c.poster.now())
			e.Message = c.poster.scrub.clean(excerpt(string(resp.Body)))
			return e
		}
	}
	return nil
}
