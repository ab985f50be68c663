package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// slackPayload is the documented incoming-webhook body: fallback text plus
// Block Kit blocks.
type slackPayload struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"fields"`
		Elements []struct {
			Type     string          `json:"type"`
			Text     json.RawMessage `json:"text"`
			URL      string          `json:"url"`
			ActionID string          `json:"action_id"`
			Style    string          `json:"style"`
		} `json:"elements"`
	} `json:"blocks"`
}

// checkSlackLimits applies the Block Kit reference's limits.
func checkSlackLimits(t *testing.T, p slackPayload) {
	t.Helper()
	if p.Text == "" {
		t.Fatal("no fallback text: notifications would be empty")
	}
	if len(p.Blocks) == 0 || len(p.Blocks) > 50 {
		t.Fatalf("%d blocks", len(p.Blocks))
	}
	if p.Blocks[0].Type != "header" || p.Blocks[0].Text == nil || p.Blocks[0].Text.Type != "plain_text" || utf8.RuneCountInString(p.Blocks[0].Text.Text) > 150 {
		t.Fatalf("first block %+v, want a plain_text header of at most 150 characters", p.Blocks[0])
	}
	for i, b := range p.Blocks {
		switch b.Type {
		case "header", "context":
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				t.Fatalf("block %d: section without text or fields", i)
			}
			if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > 3000 {
				t.Fatalf("block %d: section text over 3000", i)
			}
			if len(b.Fields) > 10 {
				t.Fatalf("block %d: %d fields, at most 10", i, len(b.Fields))
			}
			for _, f := range b.Fields {
				if f.Type != "mrkdwn" || utf8.RuneCountInString(f.Text) > 2000 {
					t.Fatalf("block %d: field %+v", i, f)
				}
			}
		case "actions":
			ids := map[string]bool{}
			for _, e := range b.Elements {
				var text struct{ Type, Text string }
				if err := json.Unmarshal(e.Text, &text); err != nil {
					t.Fatal(err)
				}
				if e.Type != "button" || text.Type != "plain_text" || text.Text == "" || utf8.RuneCountInString(text.Text) > 75 {
					t.Fatalf("block %d: element %+v, want a button with plain_text", i, e)
				}
				if !strings.HasPrefix(e.URL, "https://") || len(e.URL) > 3000 {
					t.Fatalf("block %d: button url %q", i, e.URL)
				}
				if e.ActionID == "" || ids[e.ActionID] {
					t.Fatalf("block %d: action_id %q empty or repeated", i, e.ActionID)
				}
				ids[e.ActionID] = true
				if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
					t.Fatalf("block %d: style %q", i, e.Style)
				}
			}
		default:
			t.Fatalf("block %d: type %q not used by posture", i, b.Type)
		}
	}
}

func TestSlackBlocks(t *testing.T) {
	h := newHookServer(t)
	ch, err := NewSlackChannel(SlackConfig{URL: Secret(h.URL + "/services/T0001/B0001/XXXXXXXXXXXXXXXX")})
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Justification = "Vendor appliance <!channel> & <https://evil.example|click here>\nsecond line"
	m.Ticket = &TicketRef{System: "jira", Key: "SEC-17", URL: "https://contoso.atlassian.net/browse/SEC-17"}
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := h.last(t)
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || r.Path != "/services/T0001/B0001/XXXXXXXXXXXXXXXX" {
		t.Fatalf("%s %s %q", r.Method, r.Path, r.Header.Get("Content-Type"))
	}
	var p slackPayload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	checkSlackLimits(t, p)
	if p.Blocks[0].Text.Text != "Exemption requested" {
		t.Fatalf("header %q", p.Blocks[0].Text.Text)
	}
	var fields, sections []string
	var buttons []string
	for _, b := range p.Blocks {
		for _, f := range b.Fields {
			fields = append(fields, f.Text)
		}
		if b.Type == "section" && b.Text != nil {
			sections = append(sections, b.Text.Text)
		}
		for _, e := range b.Elements {
			if e.Type == "button" {
				buttons = append(buttons, e.ActionID+"|"+e.Style+"|"+e.URL)
			}
		}
	}
	wantButtons := []string{"approve|primary|" + m.Links.Approve, "reject|danger|" + m.Links.Reject, "view||" + m.Links.View}
	if strings.Join(buttons, " ") != strings.Join(wantButtons, " ") {
		t.Fatalf("buttons\n got %q\nwant %q", buttons, wantButtons)
	}
	joinedFields := strings.Join(fields, "\n")
	for _, want := range []string{"*Resource*\n" + testVM, "*Category*\nWaiver", "*Ticket*\n<https://contoso.atlassian.net/browse/SEC-17|SEC-17>"} {
		if !strings.Contains(joinedFields, want) {
			t.Errorf("fields lack %q:\n%s", want, joinedFields)
		}
	}
	joined := strings.Join(sections, "\n")
	if !strings.Contains(joined, "&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;") {
		t.Fatalf("user text not escaped for mrkdwn:\n%s", joined)
	}
	if strings.Contains(string(r.Body), "<!channel>") {
		t.Fatal("a channel-wide mention would ping everyone")
	}
}

func TestSlackManyResourcesStayWithinLimits(t *testing.T) {
	m := requestMessage()
	m.Resources = nil
	for i := 0; i < 400; i++ {
		m.Resources = append(m.Resources, testVM+strings.Repeat("x", i%7))
	}
	m.Justification = strings.Repeat("very long justification ", 500)
	body, err := RenderSlack(m)
	if err != nil {
		t.Fatal(err)
	}
	var p slackPayload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	checkSlackLimits(t, p)
	if !strings.Contains(string(body), "Resources (400)") {
		t.Fatal("the resource count is missing")
	}
}

func TestSlackClassification(t *testing.T) {
	h := newHookServer(t)
	const token = "B0001/XXXXsecretXXXX"
	ch, err := NewSlackChannel(SlackConfig{URL: Secret(h.URL + "/services/T0001/" + token), Timeout: Duration(300 * time.Millisecond)}, WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	runClassification(t, h, ch.Send, token, "XXXXsecretXXXX")
}

func TestSlackErrorNamesTheReason(t *testing.T) {
	h := newHookServer(t)
	h.setRespond(answer(400, nil, "invalid_payload"))
	ch, err := NewSlackChannel(SlackConfig{URL: Secret(h.URL + "/services/T/B/secret")})
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeRejected || !strings.Contains(err.Error(), "invalid_payload") {
		t.Fatalf("got %v, want Rejected naming invalid_payload", err)
	}
}
