package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/graph"
	"github.com/posture/posture/queue"
	"github.com/posture/posture/telemetry"
)

// TelemetryFlags configure traces (metrics are always on, at /metrics).
type TelemetryFlags struct {
	OTLPEndpoint string `name:"otlp-endpoint" help:"OTLP/HTTP endpoint that receives traces (e.g. http://127.0.0.1:4318; spans go to {endpoint}/v1/traces). Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; none: no tracing." env:"POSTURE_OTLP_ENDPOINT"`
}

// observability is serve's metrics and traces beyond HTTP.
type observability struct {
	tel *telemetry.Telemetry
	tp  *sdktrace.TracerProvider // nil: no tracing
	raw posture.Store
	// store is the store the services use: timed, and traced when tracing
	// is on.
	store posture.Store
	log   *slog.Logger
}

// startTelemetry starts tracing when an endpoint is configured and wraps
// the store.
func (c *ServeCmd) startTelemetry(ctx context.Context, store posture.Store, log *slog.Logger) (*observability, error) {
	tp, err := telemetry.StartTracing(ctx, telemetry.TracingConfig{Endpoint: c.OTLPEndpoint, Version: Version})
	if err != nil {
		return nil, usageError{err}
	}
	o := &observability{raw: store, log: log, tp: tp}
	if tp != nil {
		o.tel = telemetry.New(tp)
		log.Info("tracing on: spans go to the OTLP endpoint")
	} else {
		o.tel = telemetry.New(nil)
	}
	system := "sqlite"
	if c.DatabaseURL != "" {
		system = "postgresql"
	}
	o.store = o.tel.Store(store, system)
	return o, nil
}

// hook makes evaluations and queries report to the metrics (and spans).
// Call it before the services run: the hooks are plain fields.
func (o *observability) hook(policies *compliance.Service, tables *graph.Service) {
	policies.OnEvaluate = o.tel.OnEvaluate
	tables.OnQuery = o.tel.OnQuery
}

// register registers the metrics with reg and hooks the queues to them
// (before they run).
func (o *observability) register(reg prometheus.Registerer, checkpointEvery int, queues ...*queue.Queue) error {
	if err := o.tel.Register(reg); err != nil {
		return err
	}
	err := reg.Register(&telemetry.Collector{Store: o.raw, ExemptionType: compliance.ExemptionType, CheckpointEvery: checkpointEvery, Logger: o.log})
	if err != nil {
		return err
	}
	for _, q := range queues {
		q.OnRun = o.tel.OnRun
	}
	return nil
}

// handler starts a span per request when tracing is on.
func (o *observability) handler(h http.Handler) http.Handler { return o.tel.Handler(h) }

// close flushes the spans not yet sent.
func (o *observability) close() {
	if o.tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.tp.Shutdown(ctx); err != nil {
		o.log.Warn("flushing traces", "err", err)
	}
}

// readyChecks are the conditions of /readyz: the store answers and the
// Resource Graph tables are loaded (they load while the server already
// serves the API). Append a check here for every other view a replica must
// have before it takes traffic.
func readyChecks(store posture.Store, tables *graph.Service, log *slog.Logger) []api.ReadyCheck {
	return []api.ReadyCheck{
		{Name: "store", Check: func(ctx context.Context) error {
			if err := store.Ping(ctx); err != nil {
				// The driver's text may name hosts and users, and
				// /readyz has no auth: the log has it.
				log.Warn("not ready: the store does not answer", "err", err)
				return errStoreDown
			}
			return nil
		}},
		{Name: "resource-graph", Check: func(context.Context) error {
			if !tables.Ready() {
				return errTablesLoading
			}
			return nil
		}},
	}
}

var (
	errStoreDown     = errors.New("the store does not answer")
	errTablesLoading = errors.New("the Resource Graph tables are loading")
)
