package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingConfig says where spans go.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP base URL (http://collector:4318); spans
	// are posted to {Endpoint}/v1/traces. Empty: the standard variables
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) and
	// OTEL_EXPORTER_OTLP_ENDPOINT (a base URL) decide, and with neither set
	// tracing is off.
	Endpoint string
	// Version is the service.version of the spans.
	Version string
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
}

// Enabled reports whether the configuration asks for traces:
// an endpoint is set and OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none
// does not turn them off.
func (c TracingConfig) Enabled() bool {
	env := c.getenv()
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(env("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return c.Endpoint != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

func (c TracingConfig) getenv() func(string) string {
	if c.Getenv != nil {
		return c.Getenv
	}
	return os.Getenv
}

// StartTracing returns the tracer provider that batches spans to the OTLP
// endpoint, nil when tracing is not enabled. Shut it down to flush. The
// exporter reads the other standard variables itself (headers, timeout,
// compression, certificates), and the provider the sampler
// (OTEL_TRACES_SAMPLER; default: parent-based, always on).
func StartTracing(ctx context.Context, c TracingConfig) (*sdktrace.TracerProvider, error) {
	if !c.Enabled() {
		return nil, nil
	}
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("OTLP endpoint %q: want an http(s) URL such as http://127.0.0.1:4318", c.Endpoint)
		}
		if !strings.HasSuffix(u.Path, "/v1/traces") {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	// The service name comes first so that OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES can override it.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("posture"), semconv.ServiceVersion(c.Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// propagator reads W3C traceparent and tracestate headers.
var propagator = propagation.TraceContext{}

// TraceParent returns the W3C traceparent of the span in ctx, "" when there
// is none (sqlstore.Store.SetTraceParent: jobs keep the trace that enqueued
// them).
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// Handler starts a server span for every request, a child of the caller's
// traceparent when it sends one. The span is named after the method until
// package api renames it after the route; it records the method and the
// status and never the path, the query or a header (they carry ids, $filter
// values, signed links and tokens). With tracing off it returns next.
func (t *Telemetry) Handler(next http.Handler) http.Handler {
	if t.tracer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, "HTTP "+method(r.Method), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method(r.Method))))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// method is the method, or _OTHER (as the semantic conventions say) for
// one that is not standard: a label must stay bounded.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "_OTHER"
}
