package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/graph"
)

// ReviewFlags configure drift review and resource filters of exemptions.
type ReviewFlags struct {
	ReviewGrace      time.Duration `default:"168h" help:"How long an exemption whose resource drifted (or whose evidence failed) stays honoured while it waits for review." env:"POSTURE_REVIEW_GRACE"`
	EvidenceInterval time.Duration `default:"15m" help:"How often the evidence queries of Mitigated exemptions run (0: never)." env:"POSTURE_EVIDENCE_INTERVAL"`
	FilterWarnShare  float64       `default:"0.5" help:"Warn when an exemption's resource filter keeps more than this share of the resources it could cover." env:"POSTURE_FILTER_WARN_SHARE"`
}

// runEvidence runs the evidence queries of exemptions every
// EvidenceInterval until ctx ends.
func (f *ReviewFlags) runEvidence(ctx context.Context, policies *compliance.Service, tables *graph.Service, log *slog.Logger) {
	if f.EvidenceInterval <= 0 {
		return
	}
	run := func(ctx context.Context, scope, query string) (int, error) {
		res, err := tables.Query(ctx, evidenceQuery(scope, query))
		if err != nil {
			return 0, err
		}
		return int(res.TotalRecords), nil
	}
	tick := time.NewTicker(f.EvidenceInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := policies.CheckEvidenceQueries(ctx, run); err != nil && ctx.Err() == nil {
			log.Error("checking exemption evidence", "err", err)
		} else if n > 0 {
			log.Info("exemption evidence changed reviews", "changed", n)
		}
	}
}

// evidenceQuery is an evidence query limited to the exemption's scope.
func evidenceQuery(scope, query string) *posture.GraphQuery {
	q := &posture.GraphQuery{Query: query, Top: 1, Readable: &posture.ReadableScopes{}}
	id, err := armid.Parse(scope)
	switch {
	case err != nil:
	case id.Kind() == armid.ManagementGroup:
		q.ManagementGroups, q.Readable.All = []string{id.ManagementGroup()}, true
	case id.Kind() == armid.Subscription:
		q.Readable.Subscriptions = []string{strings.ToLower(id.SubscriptionID())}
	default:
		q.Readable.Scopes = []string{id.Key()}
	}
	return q
}
