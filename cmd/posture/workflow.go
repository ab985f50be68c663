package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/dispatch"
	"github.com/posture/posture/notify"
	"github.com/posture/posture/outbox"
	"github.com/posture/posture/queue"
	"github.com/posture/posture/requests"
)

// WorkflowFlags configure exemption requests, notices and the queue.
type WorkflowFlags struct {
	NotifyConfig string `name:"notify-config" help:"JSON file of notification channels and ticket connectors (smtp, teams, slack, webhooks, jira, serviceNow); POSTURE_NOTIFY_* variables override it." env:"POSTURE_NOTIFY_CONFIG" type:"existingfile"`
	// LinkKey signs the one-click links of notices; replicas share it.
	LinkKey        string          `name:"link-key" help:"Base64 key (32 bytes or more) signing one-click links; replicas share it (default: <data>/link.key, created once)." env:"POSTURE_LINK_KEY"`
	LinkTTL        time.Duration   `name:"link-ttl" default:"168h" help:"How long one-click links in notices work." env:"POSTURE_LINK_TTL"`
	RequestTimeout time.Duration   `name:"request-timeout" default:"336h" help:"How long an exemption request waits for a decision before it expires." env:"POSTURE_REQUEST_TIMEOUT"`
	Reminders      []time.Duration `name:"reminders" default:"720h,168h,24h" help:"How long before an exemption expires its owner and approver are reminded." env:"POSTURE_REMINDERS"`
	QueueAttempts  int             `name:"queue-attempts" default:"8" help:"Tries of a notice before it is dead-lettered." env:"POSTURE_QUEUE_ATTEMPTS"`
}

// workflow is the wired request service and its queue.
type workflow struct {
	requests *requests.Service
	queue    *queue.Queue
}

// linkKey returns the key that signs links: the flag, else a key file in
// the data directory (created 0600 on first use, like the ledger key).
func (f *WorkflowFlags) linkKey(dataDir string) ([]byte, error) {
	if f.LinkKey != "" {
		k, err := base64.StdEncoding.DecodeString(f.LinkKey)
		if err != nil || len(k) < 32 {
			return nil, usageError{errors.New("--link-key must be base64 of at least 32 bytes")}
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "link.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s does not hold a base64 key of 32 bytes or more", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing the link key: %w", err)
	}
	return k, nil
}

// notifyConfig reads the channels' configuration.
func (f *WorkflowFlags) notifyConfig() (*notify.Config, error) {
	var cfg notify.Config
	if f.NotifyConfig != "" {
		b, err := os.ReadFile(f.NotifyConfig)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return nil, usageError{fmt.Errorf("--notify-config %s: %w", f.NotifyConfig, err)}
		}
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return nil, usageError{err}
	}
	return &cfg, nil
}

// buildWorkflow wires the outbox, the queue and the request service.
func (f *WorkflowFlags) build(store posture.Store, exemptions posture.ExemptionService, authz requests.Authorizer, catalog *defender.Catalog, feed posture.ChangeFeed, autos *dispatch.Service, dataDir, publicURL string, log *slog.Logger) (*workflow, error) {
	cfg, err := f.notifyConfig()
	if err != nil {
		return nil, err
	}
	channels, tickets, err := cfg.Build()
	if err != nil {
		return nil, usageError{fmt.Errorf("notification channels: %w", err)}
	}
	key, err := f.linkKey(dataDir)
	if err != nil {
		return nil, err
	}
	ob := &outbox.Outbox{Channels: channels, Store: store, Automations: autos.Deliver}
	if len(tickets) > 0 {
		ob.Tickets = tickets[0]
		if len(tickets) > 1 {
			log.Warn("several ticket connectors are configured; tickets go to the first", "connector", tickets[0].Name())
		}
	}
	if cfg.SMTP != nil {
		ob.DefaultRecipients = cfg.SMTP.DefaultTo
	}
	q := &queue.Queue{Store: store, Classify: outbox.Classify, MaxAttempts: f.QueueAttempts, Logger: log, Handlers: map[string]queue.Handler{}}
	for kind, h := range ob.Handlers() {
		q.Handlers[kind] = h
	}
	svc := &requests.Service{
		Store: store, Exemptions: exemptions, Authz: authz, Outbox: ob, Feed: feed, Wake: q.Notify, Now: time.Now,
		Links:           &requests.Linker{Key: key, BaseURL: publicURL, TTL: f.LinkTTL},
		DecisionTimeout: f.RequestTimeout, Reminders: f.Reminders,
		Recommendation: recommendationOf(catalog),
	}
	ob.TicketOpened, ob.TicketOf = svc.TicketOpened, svc.TicketOf
	autos.Wake = q.Notify
	names := make([]string, len(channels))
	for i, ch := range channels {
		names[i] = ch.Name()
	}
	log.Info("notifications", "channels", names, "tickets", len(tickets) > 0)
	return &workflow{requests: svc, queue: q}, nil
}

// runQueue works the queue until ctx ends, on every replica.
func (w *workflow) runQueue(ctx context.Context, log *slog.Logger) {
	if err := w.queue.Run(ctx); err != nil && ctx.Err() == nil {
		log.Error("the job queue stopped", "err", err)
	}
}

// runTimers expires undecided requests and queues reminders every minute;
// on the leader replica only.
func (w *workflow) runTimers(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if _, err := w.requests.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			log.Error("expiring exemption requests", "err", err)
		}
		if _, err := w.requests.Remind(ctx); err != nil && ctx.Err() == nil {
			log.Error("queueing exemption reminders", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// jobs lists the queue for the API.
func jobsOf(store posture.Store) func(context.Context, posture.JobFilter) ([]*posture.Job, error) {
	return func(ctx context.Context, f posture.JobFilter) ([]*posture.Job, error) {
		var out []*posture.Job
		err := store.Read(ctx, func(tx posture.Tx) error {
			var err error
			out, err = tx.Jobs(f)
			return err
		})
		return out, err
	}
}

// recommendationOf resolves assessment keys with the catalog, for requests
// and the portal.
func recommendationOf(catalog *defender.Catalog) func(string) (requests.Recommendation, bool) {
	return func(k string) (requests.Recommendation, bool) {
		r, ok := catalog.Recommendation(k)
		if !ok {
			return requests.Recommendation{}, false
		}
		return requests.Recommendation{DisplayName: r.DisplayName, ReferenceID: r.ReferenceID, Severity: r.Severity}, true
	}
}
