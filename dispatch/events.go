package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
	"github.com/posture/posture/outbox"
)

// event is one document an automation may be told about.
type event struct {
	source string // automation.Assessments, SecureScores, SecureScoreControls
	id     string
	body   json.RawMessage
}

// sourceOf names the event source of a derived document.
func sourceOf(r *posture.Resource) string {
	switch r.TypeKey() {
	case "microsoft.security/assessments":
		return automation.Assessments
	case "microsoft.security/securescores":
		return automation.SecureScores
	case "microsoft.security/securescores/securescorecontrols":
		return automation.SecureScoreControls
	}
	return ""
}

// Publish implements posture.ChangeFeed: the assessments and scores a
// change derived become jobs of the automations that select them. It runs
// after the commit, in the writer's goroutine, so it only hands the events
// to a goroutine that queues them.
func (s *Service) Publish(c *posture.Change) {
	var evs []event
	for _, r := range c.Derived {
		if src := sourceOf(r); src != "" {
			evs = append(evs, event{source: src, id: r.ID, body: r.Body})
		}
	}
	if len(evs) == 0 || !s.any() {
		return
	}
	s.start.Do(func() { s.events = make(chan []event, 1024) })
	select {
	case s.events <- evs:
	default:
		s.Logger.Warn("workflow automation events dropped: the queue writer is behind", "events", len(evs))
	}
}

// any reports whether some automation exists (loading them once).
func (s *Service) any() bool {
	s.mu.RLock()
	loaded, n := s.loaded, len(s.all)
	s.mu.RUnlock()
	if loaded {
		return n > 0
	}
	if err := s.load(context.Background()); err != nil {
		s.Logger.Error("loading workflow automations", "err", err)
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.all) > 0
}

// Reload reads the automations again: another replica changed one.
func (s *Service) Reload(ctx context.Context) error { return s.load(ctx) }

func (s *Service) load(ctx context.Context) error {
	all := map[string]*automation.Automation{}
	page, err := s.Resources.ListResources(ctx, posture.ResourceFilter{Types: []string{typeKey}, Limit: 100000, KeysOnly: true})
	if err != nil {
		return err
	}
	for _, r := range page.Resources {
		a, err := s.stored(ctx, r.Key)
		if err != nil {
			return err
		}
		if a != nil {
			all[r.Key] = a
		}
	}
	s.mu.Lock()
	if !s.loaded {
		s.all, s.loaded = all, true
	}
	s.mu.Unlock()
	return nil
}

// Run queues the jobs of the events Publish hands over until ctx ends.
func (s *Service) Run(ctx context.Context) {
	s.start.Do(func() { s.events = make(chan []event, 1024) })
	for {
		select {
		case <-ctx.Done():
			return
		case evs := <-s.events:
			if err := s.enqueue(ctx, evs); err != nil && ctx.Err() == nil {
				s.Logger.Error("queueing workflow automation events", "err", err)
			}
		}
	}
}

// job is the payload of an automation job.
type job struct {
	Automation  string          `json:"automation"` // lower-case id
	Action      int             `json:"action"`     // index among the automation's actions
	EventSource string          `json:"eventSource"`
	Event       json.RawMessage `json:"event"`
}

func (s *Service) enqueue(ctx context.Context, evs []event) error {
	s.mu.RLock()
	var jobs []*posture.Job
	for key, a := range s.all {
		for _, ev := range evs {
			if !a.Matches(ev.source, ev.id, ev.body) {
				continue
			}
			sum := sha256.Sum256(ev.body)
			for i, ac := range a.Actions {
				if _, ok := ac.Endpoint(); !ok {
					continue
				}
				payload, _ := json.Marshal(job{Automation: key, Action: i, EventSource: ev.source, Event: ev.body})
				jobs = append(jobs, &posture.Job{
					// The same document delivered once per action.
					Key:  "automation/" + key + "/" + strconv.Itoa(i) + "/" + hex.EncodeToString(sum[:12]),
					Kind: outbox.KindAutomation, Ref: key, Payload: payload,
				})
			}
		}
	}
	s.mu.RUnlock()
	if len(jobs) == 0 {
		return nil
	}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		_, err := tx.EnqueueJobs(jobs)
		return err
	})
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return err
}

// Client posts events; nil: a client with a 30 s timeout.
var Client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Deliver runs an automation job (the outbox's handler): it POSTs the
// event document to the action's endpoint. 408, 429 and 5xx are retried
// (after Retry-After when given); other answers are permanent.
func (s *Service) Deliver(ctx context.Context, j *posture.Job) error {
	var p job
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return outbox.Permanent(fmt.Errorf("automation job payload: %v", err))
	}
	a, err := s.stored(ctx, p.Automation)
	if err != nil {
		return err
	}
	if a == nil || p.Action >= len(a.Actions) {
		return outbox.Permanent(errors.New("the automation or its action no longer exists"))
	}
	endpoint, ok := a.Actions[p.Action].Endpoint()
	if !ok {
		return outbox.Permanent(errors.New("the action is not deliverable"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(p.Event))
	if err != nil {
		return outbox.Permanent(errors.New("the action's endpoint is not a valid URL"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", j.Key)
	resp, err := Client.Do(req)
	if err != nil {
		// The error names the URL, which holds the Logic App's signature.
		return fmt.Errorf("posting the %s event: %s", p.EventSource, redact(err.Error(), endpoint))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &retryError{status: resp.StatusCode, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return outbox.Permanent(fmt.Errorf("the endpoint answered %d", resp.StatusCode))
}

func redact(msg, endpoint string) string {
	if i := strings.IndexByte(endpoint, '?'); i >= 0 {
		msg = strings.ReplaceAll(msg, endpoint[i:], "?[redacted]")
	}
	return msg
}

// retryError is a delivery worth retrying.
type retryError struct {
	status int
	after  time.Duration
}

func (e *retryError) Error() string { return fmt.Sprintf("the endpoint answered %d", e.status) }

// RetryAfter is the wait the endpoint asked for.
func (e *retryError) RetryAfter() time.Duration { return e.after }

func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}
