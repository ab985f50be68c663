package telemetry

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/posture/posture"
)

// DefaultCacheTTL is how long the store's gauges are reused between
// scrapes: scrapers of several replicas (or several scrapers) cost the
// database one read per TTL per replica.
const DefaultCacheTTL = 5 * time.Second

// collectTimeout bounds the store read of one scrape; a scrape while the
// database is down answers without the store's gauges, not late.
const collectTimeout = 2 * time.Second

// Collector reports the gauges the store holds, read in one transaction
// when Prometheus scrapes and kept for TTL: jobs by state, the ledger's
// head and last checkpoint, and the number of exemptions. They are the
// database's, the same from every replica.
type Collector struct {
	Store posture.Store
	// ExemptionType is the type of exemption documents (counted when set).
	ExemptionType string
	// TTL is how long a read is reused (0: DefaultCacheTTL).
	TTL time.Duration
	// CheckpointEvery is how many entries a ledger checkpoint covers;
	// the last checkpoint is looked for among the last two spans of it.
	CheckpointEvery int
	Logger          *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last *storeGauges // nil: the last read failed
}

type storeGauges struct {
	jobs       posture.JobCounts
	head       int64
	checkpoint int64
	exemptions int
}

var (
	jobsDesc = prometheus.NewDesc("posture_queue_jobs",
		"Jobs in the durable queue by state (Pending, Running, Done, Dead: dead letters), store-wide.", []string{"state"}, nil)
	headDesc = prometheus.NewDesc("posture_ledger_head_seq",
		"Sequence number of the last ledger entry: entries appended since the ledger began (pruning keeps it).", nil, nil)
	checkpointDesc = prometheus.NewDesc("posture_ledger_checkpoint_seq",
		"Sequence number of the last signed ledger checkpoint (0: none yet).", nil, nil)
	exemptionsDesc = prometheus.NewDesc("posture_exemptions",
		"Policy exemptions stored.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- headDesc
	ch <- checkpointDesc
	if c.ExemptionType != "" {
		ch <- exemptionsDesc
	}
}

// Collect implements prometheus.Collector. Concurrent scrapes share one
// read.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	g := c.gauges()
	if g == nil {
		return
	}
	for _, state := range []string{posture.JobPending, posture.JobRunning, posture.JobDone, posture.JobDead} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(g.jobs[state]), state)
	}
	ch <- prometheus.MustNewConstMetric(headDesc, prometheus.GaugeValue, float64(g.head))
	ch <- prometheus.MustNewConstMetric(checkpointDesc, prometheus.GaugeValue, float64(g.checkpoint))
	if c.ExemptionType != "" {
		ch <- prometheus.MustNewConstMetric(exemptionsDesc, prometheus.GaugeValue, float64(g.exemptions))
	}
}

func (c *Collector) gauges() *storeGauges {
	c.mu.Lock()
	defer c.mu.Unlock()
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if !c.at.IsZero() && time.Since(c.at) < ttl {
		return c.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	g, err := c.read(ctx)
	if err != nil {
		// Leave the series out rather than report stale values; the next
		// scrape tries again.
		if c.Logger != nil {
			c.Logger.Warn("metrics: reading the store's gauges", "err", err)
		}
		c.at, c.last = time.Time{}, nil
		return nil
	}
	c.at, c.last = time.Now(), g
	return g
}

func (c *Collector) read(ctx context.Context) (*storeGauges, error) {
	g := &storeGauges{}
	err := c.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		if g.jobs, err = tx.CountJobs(); err != nil {
			return err
		}
		if g.head, _, err = tx.LedgerHead(); err != nil {
			return err
		}
		every := int64(max(c.CheckpointEvery, 1))
		cps, err := tx.Checkpoints(max(g.head-2*every, 0), 0)
		if err != nil {
			return err
		}
		if len(cps) > 0 {
			g.checkpoint = cps[len(cps)-1].Seq
		}
		if c.ExemptionType != "" {
			g.exemptions, err = tx.CountResources(posture.ResourceFilter{Types: []string{strings.ToLower(c.ExemptionType)}})
		}
		return err
	})
	return g, err
}
