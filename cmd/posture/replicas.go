package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/replica"
	"github.com/posture/posture/sqlstore"
)

// replication is how this process runs beside other replicas on one
// PostgreSQL database: the write lock its services share (a plain mutex
// on SQLite), following the change log, and leadership of the jobs that
// must run once.
type replication struct {
	cluster  *postgres.Cluster // nil: SQLite, this process is alone
	gate     *replica.Gate
	follower *replica.Follower
	store    *sqlstore.Store
	log      *slog.Logger

	// advertise is the URL the other replicas reach this one at ("": they
	// do not forward writes to it); writer the leader's, as it announced
	// it (writerSetting); leading whether this replica leads.
	advertise string
	writer    atomic.Pointer[string]
	leading   atomic.Bool
}

// writerSetting holds the URL of the replica that leads, where the others
// forward ARM writes (api.Forward); the leader writes it when it starts
// leading, and the change log tells the others.
const writerSetting = "replica:writer"

// changeLogRetention is how long change rows are kept: a replica that was
// away longer must restart (it reloads everything when it starts).
const changeLogRetention = 24 * time.Hour

func newReplication(store *sqlstore.Store, cluster *postgres.Cluster, log *slog.Logger) *replication {
	r := &replication{cluster: cluster, gate: &replica.Gate{}, store: store, log: log}
	if cluster == nil {
		return r
	}
	cluster.SetLogger(log)
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	origin := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	store.SetOrigin(origin)
	r.follower = &replica.Follower{Log: store, Origin: origin, Logger: log}
	store.OnUncertainWrite(func() {
		log.Warn("a write's outcome is unknown (its connection broke during the commit): applying this replica's own changes from the log again")
		r.follower.ReplayOwn()
	})
	r.gate.Locker, r.gate.Follower = cluster, r.follower
	return r
}

// start marks where the change log ends, before the views load: records
// after it are applied over what they load.
func (r *replication) start(ctx context.Context, apply func(context.Context, *posture.ChangeKeys) (func(), error)) error {
	if r.follower == nil {
		return nil
	}
	r.follower.Apply = func(ctx context.Context, k *posture.ChangeKeys) (func(), error) {
		if slices.Contains(k.Settings, writerSetting) {
			if err := r.readWriter(ctx); err != nil {
				return nil, err
			}
		}
		return apply(ctx, k)
	}
	if err := r.follower.Start(ctx); err != nil {
		return fmt.Errorf("reading the change log: %w", err)
	}
	return r.readWriter(ctx)
}

// readWriter reads the URL the leader announced.
func (r *replication) readWriter(ctx context.Context) error {
	return r.store.Read(ctx, func(tx posture.Tx) error {
		v, err := tx.Setting(writerSetting)
		if err == nil {
			r.writer.Store(&v)
		}
		return err
	})
}

// announce tells the other replicas where to forward writes: here (or
// nowhere, without an advertised URL: they write themselves).
func (r *replication) announce(ctx context.Context) {
	err := r.store.Write(ctx, func(tx posture.Tx) error { return tx.PutSetting(writerSetting, r.advertise) })
	if err != nil && ctx.Err() == nil {
		r.log.Warn("announcing this replica as the one that takes writes", "err", err)
	}
}

// advertiseURL returns the URL the other replicas reach this one at: the
// flag's, or http://{addr} when the listener has an address of its own
// (not 0.0.0.0 or ::, which says nothing of how others reach it); "" for
// none.
func advertiseURL(flag string, addr net.Addr) (string, error) {
	switch flag {
	case "none":
		return "", nil
	case "":
		tcp, ok := addr.(*net.TCPAddr)
		if !ok || tcp.IP.IsUnspecified() {
			return "", nil
		}
		return "http://" + tcp.String(), nil
	}
	u, err := url.Parse(flag)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return "", usageError{fmt.Errorf("--advertise-url %q: want http(s)://host[:port], or none", flag)}
	}
	return u.Scheme + "://" + u.Host, nil
}

// forward returns how this replica sends its ARM writes to the leader;
// nil alone on SQLite or without an advertised URL.
func (r *replication) forward() *api.Forward {
	if r.cluster == nil || r.advertise == "" {
		return nil
	}
	return &api.Forward{
		Writer: func() string {
			if r.leading.Load() {
				return ""
			}
			if w := r.writer.Load(); w != nil && *w != r.advertise {
				return *w
			}
			return ""
		},
		CaughtUp: r.gate.Sync,
		Origin:   r.follower.Origin,
	}
}

// followCoalesce is how long a replica waits after a notification for
// more before it catches up (replica.Gate.Run).
const followCoalesce = 10 * time.Millisecond

// run follows the other replicas until ctx ends: on each of their
// notifications and at least every second. Its own are not worth a read of
// the log: it applied those changes when it wrote them.
func (r *replication) run(ctx context.Context) {
	if r.cluster == nil {
		return
	}
	wake := make(chan struct{}, 1)
	go r.cluster.Listen(ctx, func(payload string) {
		if sqlstore.NotifyOrigin(payload) == r.follower.Origin {
			return
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	r.gate.Run(ctx, wake, time.Second, followCoalesce)
}

// lead runs fn while this replica leads (always, alone on SQLite): the
// jobs that must run once across replicas.
func (r *replication) lead(ctx context.Context, fn func(context.Context)) {
	if r.cluster == nil {
		fn(ctx)
		return
	}
	r.cluster.Lead(ctx, 5*time.Second, func(ctx context.Context) {
		r.leading.Store(true)
		defer r.leading.Store(false)
		r.announce(ctx)
		fn(ctx)
	})
}

// pruneChanges deletes old change rows, on the leader.
func (r *replication) pruneChanges(ctx context.Context) {
	if r.cluster == nil {
		return
	}
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := r.store.PruneChanges(ctx, time.Now().Add(-changeLogRetention)); err != nil && ctx.Err() == nil {
			r.log.Error("pruning the change log", "err", err)
		} else if n > 0 {
			r.log.Info("change log pruned", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyCheck says a replica is unready while it cannot follow the others.
func (r *replication) readyCheck() []api.ReadyCheck {
	if r.cluster == nil {
		return nil
	}
	return []api.ReadyCheck{{Name: "replica", Check: func(context.Context) error { return r.gate.Ready() }}}
}

// automationsChanged reports whether a change touched a workflow
// automation (its document or its stored values).
func automationsChanged(c *posture.Change, k *posture.ChangeKeys) bool {
	for _, s := range k.Settings {
		if strings.HasPrefix(s, "automation:") {
			return true
		}
	}
	for _, r := range c.Put {
		if r.TypeKey() == "microsoft.security/automations" {
			return true
		}
	}
	for _, d := range c.Deleted {
		if strings.Contains(d, "/providers/microsoft.security/automations/") {
			return true
		}
	}
	return false
}

// gatedFeed publishes this replica's own changes after what its catch-ups
// read from the other replicas' (replica.Gate.Flush): the views take
// changes in commit order.
type gatedFeed struct {
	gate *replica.Gate
	feed posture.ChangeFeed
}

func (f gatedFeed) Publish(c *posture.Change) {
	f.gate.Flush()
	f.feed.Publish(c)
}
