// Package telemetry is posture's metrics and traces beyond HTTP (package
// api counts requests itself): the Prometheus series of the store, of
// policy evaluation, of Resource Graph queries and of the job queue, and
// OpenTelemetry spans over HTTP → store → jobs, exported with OTLP over
// HTTP when an endpoint is configured.
//
// The services do not import Prometheus or OpenTelemetry: each exposes a
// hook (compliance.Service.OnEvaluate, graph.Service.OnQuery,
// queue.Queue.OnRun) and Telemetry's methods fit them; the store is wrapped
// in a decorator (Store). Gauges that the store holds (queue depth, ledger
// head, exemptions) are read when Prometheus scrapes, through a short cache
// (Collector), not by a goroutine polling per replica.
//
// Label values stay bounded: modes, error kinds and codes that the code
// defines, job kinds, evaluation kinds; never an id, a path or a query.
//
// With tracing off (no endpoint) the tracer is nil and every hook skips
// the span work: one nil check.
package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/posture/posture"
)

// Telemetry holds the metrics and, when tracing is on, the tracer.
type Telemetry struct {
	tracer trace.Tracer // nil: tracing off

	storeDur   *prometheus.HistogramVec
	storeErrs  *prometheus.CounterVec
	evalDur    *prometheus.HistogramVec
	evalRes    *prometheus.HistogramVec
	kqlDur     prometheus.Histogram
	kqlRows    prometheus.Histogram
	kqlErrs    *prometheus.CounterVec
	jobDur     *prometheus.HistogramVec
	jobOutcome *prometheus.CounterVec
}

// latency buckets, seconds: from a cached read to a full evaluation.
var latency = []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 30, 60, 300}

// counts buckets: rows and resources.
var counts = []float64{0, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000}

// New returns the metrics, unregistered, with spans from tp (nil: no
// tracing).
func New(tp trace.TracerProvider) *Telemetry {
	t := &Telemetry{
		storeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posture_store_transaction_duration_seconds", Help: "Store transactions by mode (read, write), including the work done inside them.",
			Buckets: latency,
		}, []string{"mode"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posture_store_transaction_errors_total", Help: "Store transactions that returned an error, by mode and error kind (not_found, conflict, unavailable, internal, ...).",
		}, []string{"mode", "kind"}),
		evalDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posture_evaluation_duration_seconds", Help: "Policy evaluations by kind: write (inside one estate write) or assignment (every resource an assignment covers).",
			Buckets: latency,
		}, []string{"kind"}),
		evalRes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posture_evaluation_resources", Help: "Resources evaluated per policy evaluation, by kind.",
			Buckets: counts,
		}, []string{"kind"}),
		kqlDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "posture_kql_query_duration_seconds", Help: "Resource Graph (KQL) queries, answered or failed.",
			Buckets: latency,
		}),
		kqlRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "posture_kql_query_rows", Help: "Rows found by each answered Resource Graph query (all pages).",
			Buckets: counts,
		}),
		kqlErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posture_kql_query_errors_total", Help: "Failed Resource Graph queries by error code (the engine's code for an invalid query).",
		}, []string{"code"}),
		jobDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "posture_queue_job_duration_seconds", Help: "Job runs by kind, from the start of the handler to the recorded outcome.",
			Buckets: latency,
		}, []string{"kind"}),
		jobOutcome: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posture_queue_job_runs_total", Help: "Job runs by kind and outcome: done, retry (failed, will run again), dead (failed for good: a dead letter), unrecorded (released at shutdown or lease lost).",
		}, []string{"kind", "outcome"}),
	}
	if tp != nil {
		t.tracer = tp.Tracer("github.com/posture/posture")
	}
	return t
}

// Register registers the metrics with reg.
func (t *Telemetry) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{t.storeDur, t.storeErrs, t.evalDur, t.evalRes, t.kqlDur, t.kqlRows, t.kqlErrs, t.jobDur, t.jobOutcome} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Tracing reports whether spans are made.
func (t *Telemetry) Tracing() bool { return t.tracer != nil }

// OnEvaluate fits compliance.Service.OnEvaluate.
func (t *Telemetry) OnEvaluate(ctx context.Context, kind string, resources int, d time.Duration) {
	t.evalDur.WithLabelValues(kind).Observe(d.Seconds())
	t.evalRes.WithLabelValues(kind).Observe(float64(resources))
	if t.tracer != nil {
		t.span(ctx, "evaluate "+kind, d, nil, attribute.Int("posture.resources", resources))
	}
}

// OnQuery fits graph.Service.OnQuery.
func (t *Telemetry) OnQuery(ctx context.Context, rows int, err error, d time.Duration) {
	t.kqlDur.Observe(d.Seconds())
	if err != nil {
		t.kqlErrs.WithLabelValues(queryCode(err)).Inc()
	} else {
		t.kqlRows.Observe(float64(rows))
	}
	if t.tracer != nil {
		t.span(ctx, "kql query", d, err, attribute.Int("posture.rows", rows))
	}
}

// OnRun fits queue.Queue.OnRun: a span around the job's run, parent of the
// store transactions of its handler and of its outcome, and a child of the
// span that enqueued the job (Job.TraceParent): a request's trace goes on
// into the notices and tickets it caused, however late they run.
func (t *Telemetry) OnRun(ctx context.Context, j *posture.Job) (context.Context, func(string, error)) {
	start := time.Now()
	var span trace.Span
	if t.tracer != nil {
		if j.TraceParent != "" {
			ctx = propagator.Extract(ctx, propagation.MapCarrier{"traceparent": j.TraceParent})
		}
		ctx, span = t.tracer.Start(ctx, "job "+j.Kind, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("posture.job.kind", j.Kind), attribute.Int64("posture.job.id", j.ID),
				attribute.Int("posture.job.attempt", j.Attempts)))
	}
	return ctx, func(state string, err error) {
		outcome := "unrecorded"
		switch state {
		case posture.JobDone:
			outcome = "done"
		case posture.JobPending:
			outcome = "retry"
		case posture.JobDead:
			outcome = "dead"
		}
		t.jobDur.WithLabelValues(j.Kind).Observe(time.Since(start).Seconds())
		t.jobOutcome.WithLabelValues(j.Kind, outcome).Inc()
		if span != nil {
			span.SetAttributes(attribute.String("posture.job.outcome", outcome))
			if err != nil {
				// The handler's error text may quote a receiver's answer;
				// the span says only that it failed and how.
				span.SetStatus(codes.Error, outcome)
			}
			span.End()
		}
	}
}

// span records a finished piece of work of duration d as a child of ctx's
// span (hooks report work once it is done).
func (t *Telemetry) span(ctx context.Context, name string, d time.Duration, err error, attrs ...attribute.KeyValue) {
	end := time.Now()
	_, s := t.tracer.Start(ctx, name, trace.WithTimestamp(end.Add(-d)), trace.WithAttributes(attrs...))
	if err != nil {
		s.SetStatus(codes.Error, string(posture.ErrorKind(err)))
		s.SetAttributes(attribute.String("posture.error.code", boundedCode(posture.ErrorCode(err))))
	}
	s.End(trace.WithTimestamp(end))
}

// queryCode is the code of a failed query: the engine's code (a detail of
// ARG's BadRequest) when there is one.
func queryCode(err error) string {
	code := posture.ErrorCode(err)
	var pe *posture.Error
	if errors.As(err, &pe) && len(pe.Details) > 0 {
		code = pe.Details[len(pe.Details)-1].Code
	}
	return boundedCode(code)
}

// boundedCode keeps a label value to the codes the code defines: short
// words of letters and digits; anything else is "other".
func boundedCode(code string) string {
	if code == "" || len(code) > 48 {
		return "other"
	}
	for _, c := range code {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return "other"
		}
	}
	return code
}
