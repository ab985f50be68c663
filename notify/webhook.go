package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The generic webhook body is a CloudEvents 1.0 event in the JSON format
// (github.com/cloudevents/spec cloudevents/formats/json-format.md): the
// required specversion, id, source and type, plus time, subject,
// datacontenttype and data. Receivers that know CloudEvents can route on
// "type"; others read "data".
//
// Every request is signed so that a receiver can tell it comes from posture
// and is fresh:
//
//	X-Posture-Timestamp: <UNIX seconds when this attempt was sent>
//	X-Posture-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>
//	Idempotency-Key: "<event id>"
//
// The signed string is the timestamp, a full stop, and the exact body bytes;
// a receiver recomputes it over the raw body before parsing it, compares in
// constant time, and refuses timestamps older than a few minutes, so a
// captured request cannot be replayed later. Each retry is signed afresh
// with a new timestamp but carries the same Idempotency-Key (the event id,
// as a structured-field string, draft-ietf-httpapi-idempotency-key-header),
// so that a receiver that has seen the key drops the duplicate.
// VerifySignature implements the receiver's side.
const (
	SignatureHeader   = "X-Posture-Signature"
	TimestampHeader   = "X-Posture-Timestamp"
	IdempotencyHeader = "Idempotency-Key"
	EventHeader       = "X-Posture-Event"
)

// DefaultSignatureTolerance is how old (or how far in the future) a
// timestamp VerifySignature accepts by default.
const DefaultSignatureTolerance = 5 * time.Minute

type cloudEvent struct {
	SpecVersion     string      `json:"specversion"`
	ID              string      `json:"id"`
	Source          string      `json:"source"`
	Type            string      `json:"type"`
	Time            *time.Time  `json:"time,omitempty"`
	Subject         string      `json:"subject,omitempty"`
	DataContentType string      `json:"datacontenttype"`
	Data            webhookData `json:"data"`
}

// webhookData is the event payload. Field names are camelCase like the rest
// of posture's API.
type webhookData struct {
	Title          string          `json:"title"`
	Summary        string          `json:"summary"`
	RequestID      string          `json:"requestId,omitempty"`
	ExemptionID    string          `json:"exemptionId,omitempty"`
	Requester      string          `json:"requester,omitempty"`
	Actor          string          `json:"actor,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	Resources      []string        `json:"resources,omitempty"`
	Scope          string          `json:"scope,omitempty"`
	Recommendation webhookRec      `json:"recommendation"`
	Category       Category        `json:"category,omitempty"`
	Justification  string          `json:"justification,omitempty"`
	ExpiresOn      *time.Time      `json:"expiresOn,omitempty"`
	Ticket         *TicketRef      `json:"ticket,omitempty"`
	Links          webhookLinks    `json:"links"`
	Actions        []webhookAction `json:"actions,omitempty"`
}

type webhookRec struct {
	DisplayName   string `json:"displayName,omitempty"`
	AssessmentKey string `json:"assessmentKey,omitempty"`
	Severity      string `json:"severity,omitempty"`
}

type webhookLinks struct {
	View    string `json:"view,omitempty"`
	Approve string `json:"approve,omitempty"`
	Reject  string `json:"reject,omitempty"`
	Renew   string `json:"renew,omitempty"`
}

type webhookAction struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// RenderWebhook renders m as the generic webhook body.
func RenderWebhook(m *Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := newContent(m)
	ev := cloudEvent{
		SpecVersion:     "1.0",
		ID:              m.ID,
		Source:          "posture",
		Type:            string(m.Event),
		Subject:         orDefault(m.RequestID, m.ExemptionID),
		DataContentType: "application/json",
		Data: webhookData{
			Title: c.Title, Summary: c.Intro,
			RequestID: m.RequestID, ExemptionID: m.ExemptionID,
			Requester: m.Requester, Actor: m.Actor, Reason: m.Reason,
			Resources: m.Resources, Scope: m.Scope,
			Recommendation: webhookRec{DisplayName: m.Recommendation, AssessmentKey: m.AssessmentKey, Severity: m.Severity},
			Category:       m.Category, Justification: m.Justification,
			Ticket: m.Ticket,
			Links:  webhookLinks(m.Links),
		},
	}
	if !m.OccurredAt.IsZero() {
		t := m.OccurredAt.UTC()
		ev.Time = &t
	}
	if !m.ExpiresOn.IsZero() {
		t := m.ExpiresOn.UTC()
		ev.Data.ExpiresOn = &t
	}
	// The actions a human may take now, so a chat bot relaying the event
	// does not have to know which links fit which event.
	for _, a := range c.Actions {
		ev.Data.Actions = append(ev.Data.Actions, webhookAction{ID: a.ID, Title: a.Title, URL: a.URL})
	}
	return json.Marshal(ev)
}

// Sign computes the X-Posture-Signature value for body sent at timestamp
// (decimal UNIX seconds, as sent in X-Posture-Timestamp).
func Sign(key []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Signature verification failures.
var (
	ErrSignatureMissing = errors.New("notify: signature or timestamp missing")
	ErrSignatureStale   = errors.New("notify: signature timestamp outside the accepted window")
	ErrSignatureInvalid = errors.New("notify: signature does not match")
)

// VerifySignature checks a received webhook: the timestamp must be within
// tolerance of now (DefaultSignatureTolerance when 0) and the signature must
// match one of keys (several keys allow rotation). body must be the raw
// request body, before any JSON decoding.
func VerifySignature(keys [][]byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if timestamp == "" || signature == "" {
		return ErrSignatureMissing
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	if !isDigits(timestamp) || len(timestamp) > 12 {
		return ErrSignatureStale
	}
	secs, _ := strconv.ParseInt(timestamp, 10, 64)
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureStale
	}
	got, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return ErrSignatureInvalid
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return ErrSignatureInvalid
	}
	for _, key := range keys {
		want, _ := hex.DecodeString(strings.TrimPrefix(Sign(key, timestamp, body), "sha256="))
		if hmac.Equal(gotMAC, want) {
			return nil
		}
	}
	return ErrSignatureInvalid
}

// WebhookChannel posts signed CloudEvents to a generic HTTPS endpoint.
type WebhookChannel struct {
	name   string
	url    string
	key    []byte
	poster *poster
}

// NewWebhookChannel checks cfg and prepares a channel.
func NewWebhookChannel(cfg WebhookConfig, opts ...Option) (*WebhookChannel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	scrub := newScrubber(string(cfg.Secret))
	scrub.scrubURL(string(cfg.URL))
	return &WebhookChannel{
		name:   orDefault(cfg.Name, "webhook"),
		url:    string(cfg.URL),
		key:    []byte(cfg.Secret),
		poster: newPoster("webhook", timeoutOr(cfg.Timeout, defaultHTTPTimeout), opts, scrub),
	}, nil
}

// Name identifies the channel in errors and logs.
func (c *WebhookChannel) Name() string { return c.name }

// Send posts m, signed with the current time.
func (c *WebhookChannel) Send(ctx context.Context, m *Message) error {
	body, err := RenderWebhook(m)
	if err != nil {
		return invalidMessage("webhook", err)
	}
	req, err := newJSONRequest(http.MethodPost, c.url, body)
	if err != nil {
		return c.poster.badResponse("send", redactURL(c.url), "%v", err)
	}
	ts := strconv.FormatInt(c.poster.now().Unix(), 10)
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(c.key, ts, body))
	req.Header.Set(IdempotencyHeader, `"`+m.ID+`"`) // an sf-string; Validate keeps ids free of quotes
	req.Header.Set(EventHeader, string(m.Event))
	_, err = c.poster.do(ctx, "send", req)
	return err
}
