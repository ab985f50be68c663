package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// The Slack payload is Block Kit posted as JSON to an incoming webhook:
// "text" is the notification fallback and "blocks" the message
// (docs.slack.dev/tools/java-slack-sdk/guides/incoming-webhooks,
// docs.slack.dev/tools/slack-github-action/sending-data-slack-incoming-webhook).
// Limits: header text 150 characters (docs.slack.dev/reference/block-kit/blocks/header-block);
// section text 3000 and at most 10 fields of 2000, actions at most 25
// elements (api.slack.com/reference/block-kit/blocks); button text 75 and
// url 3000 (docs.slack.dev/reference/block-kit/block-elements/button-element).
// User text is escaped as Slack's formatting guide asks: &, < and > become
// &amp; &lt; &gt; "and only three" (github.com/slackhq/slack-api-docs
// page_formatting.md), which also stops "<!channel>" from pinging everyone.

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"` // header, section, actions, context
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []any       `json:"elements,omitempty"` // buttons (actions) or text objects (context)
}

type slackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

type slackButton struct {
	Type     string    `json:"type"` // button
	Text     slackText `json:"text"`
	URL      string    `json:"url"`
	ActionID string    `json:"action_id"`
	Style    string    `json:"style,omitempty"` // primary or danger
}

const (
	slackHeaderMax      = 150
	slackSectionTextMax = 3000
	slackFieldMax       = 2000
	slackFieldsPerBlock = 10
	slackButtonTextMax  = 75
)

// RenderSlack renders m as a Slack incoming-webhook body.
func RenderSlack(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := newContent(m)
	msg := slackMessage{Text: slackEscape(c.Subject)}
	msg.Blocks = append(msg.Blocks,
		slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(c.Title, slackHeaderMax)}},
		slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(c.Intro), slackSectionTextMax)}},
	)
	var fields []slackText
	var long []slackBlock
	for _, f := range c.Facts {
		value := slackEscape(f.Value)
		if f.URL != "" {
			value = "<" + strings.ReplaceAll(f.URL, "|", "%7C") + "|" + value + ">"
		}
		label := "*" + slackEscape(f.Label) + "*\n"
		if strings.Contains(f.Value, "\n") || len(f.Value) > 200 {
			long = append(long, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: label + truncate(value, slackSectionTextMax-len(label))}})
			continue
		}
		fields = append(fields, slackText{Type: "mrkdwn", Text: label + truncate(value, slackFieldMax-len(label))})
	}
	for len(fields) > 0 {
		n := min(len(fields), slackFieldsPerBlock)
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Fields: fields[:n]})
		fields = fields[n:]
	}
	msg.Blocks = append(msg.Blocks, long...)
	if len(c.Actions) > 0 {
		actions := slackBlock{Type: "actions"}
		for _, a := range c.Actions {
			actions.Elements = append(actions.Elements, slackButton{
				Type:     "button",
				Text:     slackText{Type: "plain_text", Text: truncate(a.Title, slackButtonTextMax)},
				URL:      a.URL,
				ActionID: a.ID,
				Style:    map[string]string{"positive": "primary", "destructive": "danger"}[a.Style],
			})
		}
		msg.Blocks = append(msg.Blocks, actions)
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: slackEscape(footer)}}})
	return json.Marshal(msg)
}

// slackEscape escapes Slack's three control characters, and only those.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// SlackChannel posts Block Kit messages to a Slack incoming webhook.
type SlackChannel struct {
	url    string
	poster *poster
}

// NewSlackChannel checks cfg and prepares a channel.
func NewSlackChannel(cfg SlackConfig, opts ...Option) (*SlackChannel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	scrub := newScrubber()
	scrub.scrubURL(string(cfg.URL))
	return &SlackChannel{url: string(cfg.URL), poster: newPoster("slack", timeoutOr(cfg.Timeout, defaultHTTPTimeout), opts, scrub)}, nil
}

// Name identifies the channel in errors and logs.
func (c *SlackChannel) Name() string { return "slack" }

// Send posts m. Slack answers 200 "ok"; failures come as 400
// invalid_payload, 403 action_prohibited, 404 channel_not_found or
// no_service, 410 channel_is_archived (api.slack.com changelog
// 2016-05-17-changes-to-errors-for-incoming-webhooks), all permanent, and 429
// with Retry-After when rate limited (api.slack.com/docs/rate-limits).
func (c *SlackChannel) Send(ctx context.Context, m *Message) error {
	body, err := RenderSlack(m)
	if err != nil {
		return invalidMessage("slack", err)
	}
	req, err := newJSONRequest(http.MethodPost, c.url, body)
	if err != nil {
		return c.poster.badResponse("send", redactURL(c.url), "%v", err)
	}
	_, err = c.poster.do(ctx, "send", req)
	return err
}
