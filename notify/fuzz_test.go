package notify

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for everything that reads input from outside: the wait a
// server asks for, the tickets trackers return, webhook signatures, and
// user text going into every rendering. Run one with, for example,
//
//	go test ./notify -run '^$' -fuzz FuzzParseRetryAfter -fuzztime 30s

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "", "-1", "1.5", "Mon, 02 Mar 2026 10:00:30 GMT", "Monday, 02-Mar-26 10:01:00 GMT",
		"Mon Mar  2 10:02:00 2026", "99999999999999999999999", "  7  ", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		d, ok := ParseRetryAfter(value, fixedNow)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s, outside [0, %s]", value, d, MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("not understood but a wait of %s", d)
		}
		trimmed := strings.TrimSpace(value)
		if isDigits(trimmed) {
			if !ok {
				t.Fatalf("delay-seconds %q refused", value)
			}
			if n, err := strconv.ParseUint(trimmed, 10, 64); err == nil && n < uint64(MaxRetryAfter/time.Second) && d != time.Duration(n)*time.Second {
				t.Fatalf("%q read as %s", value, d)
			}
		} else if ok {
			if _, err := http.ParseTime(trimmed); err != nil {
				t.Fatalf("%q accepted but is neither delay-seconds nor an HTTP-date", value)
			}
		}
		r, ok := parseRateLimitReset(value, fixedNow)
		if r < 0 || r > MaxRetryAfter || (!ok && r != 0) {
			t.Fatalf("parseRateLimitReset(%q) = %s, %v", value, r, ok)
		}
	})
}

func FuzzDecodeJiraCreated(f *testing.F) {
	for _, s := range []string{`{"id":"10000","key":"ED-24","self":"https://x.atlassian.net/rest/api/3/issue/10000"}`,
		`{"key":"SEC-1"}`, `{"id":"x","key":"SEC-1"}`, `{"key":"../../x-1"}`, `{"key":"A-1?x=#"}`, `null`, `[]`, `{"key":1}`, ``} {
		f.Add([]byte(s))
	}
	const base = "https://contoso.atlassian.net"
	f.Fuzz(func(t *testing.T, body []byte) {
		tk, err := decodeJiraCreated(base, body)
		if err != nil {
			return
		}
		u, perr := url.Parse(tk.URL)
		if perr != nil || u.Host != "contoso.atlassian.net" || u.Path != "/browse/"+tk.Key || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("accepted key %q makes URL %q", tk.Key, tk.URL)
		}
		if strings.ContainsAny(tk.Key, "/?#%\\ \"<>") || (tk.ID != "" && !isDigits(tk.ID)) {
			t.Fatalf("accepted %+v", tk)
		}
	})
}

func FuzzDecodeServiceNowCreated(f *testing.F) {
	for _, s := range []string{`{"result":{"sys_id":"9d385017c611228701d22104cc95c371","number":"INC0010002"}}`,
		`{"result":{"sys_id":"9D385017C611228701D22104CC95C371","number":"INC1"}}`, `{"result":{"sys_id":"../x","number":"INC1"}}`,
		`{"result":{"sys_id":"9d385017c611228701d22104cc95c371","number":"<b>"}}`, `{"result":[]}`, `{"error":{"message":"x"}}`, `nul`} {
		f.Add([]byte(s))
	}
	const instance = "https://contoso.service-now.com"
	f.Fuzz(func(t *testing.T, body []byte) {
		tk, err := decodeServiceNowCreated(instance, "incident", body)
		if err != nil {
			return
		}
		u, perr := url.Parse(tk.URL)
		if perr != nil || u.Host != "contoso.service-now.com" || u.Path != "/incident.do" || u.Query().Get("sys_id") != tk.ID {
			t.Fatalf("accepted %+v makes URL %q", tk, tk.URL)
		}
		if !sysIDPattern.MatchString(tk.ID) || !recordNumber.MatchString(tk.Key) {
			t.Fatalf("accepted %+v", tk)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"id":"evt-1"}`), int64(0), 0)
	f.Add([]byte{}, int64(301), 3)
	f.Add([]byte("\x00\xff"), int64(-299), 1)
	key := []byte(hmacKey)
	f.Fuzz(func(t *testing.T, body []byte, skew int64, flip int) {
		ts := strconv.FormatInt(fixedNow.Unix()+skew, 10)
		sig := Sign(key, ts, body)
		err := VerifySignature([][]byte{key}, ts, sig, body, fixedNow, DefaultSignatureTolerance)
		fresh := skew <= 300 && skew >= -300
		if fresh != (err == nil) {
			t.Fatalf("skew %ds: %v", skew, err)
		}
		if len(body) > 0 {
			tampered := append([]byte(nil), body...)
			i := (flip%len(tampered) + len(tampered)) % len(tampered)
			tampered[i] ^= 0x01
			if VerifySignature([][]byte{key}, ts, sig, tampered, fixedNow, DefaultSignatureTolerance) == nil {
				t.Fatal("a tampered body verifies")
			}
		}
		// Arbitrary header values must be refused, never panic.
		_ = VerifySignature([][]byte{key}, string(body), string(body), body, fixedNow, 0)
	})
}

// FuzzRender sends hostile user text through every renderer and checks the
// promises each makes: valid JSON, no header injection, no live markup.
func FuzzRender(f *testing.F) {
	f.Add("Legacy <script>alert(1)</script> & more\r\nBcc: x@y", testVM, "Rec [Approve](https://evil.example)", "alice")
	f.Add("<!channel> <@U123> <https://evil|x>", "/subscriptions/x\nSubject: y", "\u2028", "Bob <bob@x>")
	f.Add(strings.Repeat("é", 300), strings.Repeat("r", 300), "", "")
	f.Fuzz(func(t *testing.T, justification, resource, recommendation, requester string) {
		m := requestMessage()
		m.Justification, m.Resources, m.Recommendation, m.Requester = justification, []string{resource}, recommendation, requester
		if m.Validate() != nil {
			return
		}
		email, err := RenderEmail(m)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(email.Subject, "\r\n") {
			t.Fatalf("subject %q has a line break", email.Subject)
		}
		if strings.Contains(strings.ToLower(email.HTML), "<script") {
			t.Fatal("HTML contains a script tag")
		}
		for name, render := range map[string]func(*Message) ([]byte, error){"teams": RenderTeams, "slack": RenderSlack, "webhook": RenderWebhook} {
			body, err := render(m)
			if err != nil || !json.Valid(body) {
				t.Fatalf("%s: %v, valid JSON %v", name, err, json.Valid(body))
			}
		}
		body, _ := RenderSlack(m)
		var p slackPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Blocks {
			texts := []string{}
			if b.Text != nil && b.Text.Type == "mrkdwn" {
				texts = append(texts, b.Text.Text)
			}
			for _, fl := range b.Fields {
				texts = append(texts, fl.Text)
			}
			for _, s := range texts {
				if strings.ContainsAny(s, "<>") {
					t.Fatalf("unescaped Slack control character in %q", s)
				}
			}
		}
		body, _ = RenderTeams(m)
		var env teamsEnvelope
		json.Unmarshal(body, &env)
		var card teamsCard
		json.Unmarshal(env.Attachments[0].Content, &card)
		for _, el := range card.Body {
			texts := []string{el.Text}
			for _, fc := range el.Facts {
				texts = append(texts, fc.Value)
			}
			for _, s := range texts {
				if strings.Contains(s, "](") {
					t.Fatalf("Markdown link syntax survives in %q", s)
				}
			}
		}
	})
}
