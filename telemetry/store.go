package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/posture/posture"
)

// Store wraps a store: every Read and Write is timed and its errors
// counted; with tracing on, a transaction inside a traced operation (a
// request, a job) is a span of it. Transactions with no span in their
// context (the queue's polling, background loops) make no trace of their
// own: they would bury the traces that matter.
func (t *Telemetry) Store(s posture.Store, system string) posture.Store {
	return &tracedStore{Store: s, t: t, system: system}
}

type tracedStore struct {
	posture.Store
	t      *Telemetry
	system string // db.system.name: sqlite, postgresql
}

// Unwrap returns the wrapped store, for callers that look for an optional
// interface of the implementation.
func (s *tracedStore) Unwrap() posture.Store { return s.Store }

func (s *tracedStore) Read(ctx context.Context, fn func(posture.Tx) error) error {
	return s.run(ctx, "read", s.Store.Read, fn)
}

func (s *tracedStore) Write(ctx context.Context, fn func(posture.Tx) error) error {
	return s.run(ctx, "write", s.Store.Write, fn)
}

func (s *tracedStore) run(ctx context.Context, mode string, tx func(context.Context, func(posture.Tx) error) error, fn func(posture.Tx) error) error {
	var span trace.Span
	if s.t.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = s.t.tracer.Start(ctx, "store."+mode, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", s.system)))
	}
	start := time.Now()
	err := tx(ctx, fn)
	s.t.storeDur.WithLabelValues(mode).Observe(time.Since(start).Seconds())
	if err != nil {
		kind := string(posture.ErrorKind(err))
		s.t.storeErrs.WithLabelValues(mode, kind).Inc()
		if span != nil {
			span.SetStatus(codes.Error, kind)
			span.SetAttributes(attribute.String("posture.error.code", boundedCode(posture.ErrorCode(err))))
		}
	}
	if span != nil {
		span.End()
	}
	return err
}
