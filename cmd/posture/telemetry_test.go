package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlite"
)

// TestReadyz: a started server is ready (its store answers, its Resource
// Graph tables are loaded) and says so without a token.
func TestReadyz(t *testing.T) {
	s := startServer(t)
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ready\n" {
		t.Errorf("readyz: %d %q", resp.StatusCode, b)
	}
}

// otlpReceiver is an OTLP/HTTP collector: it decodes the protobuf
// exports posted to /v1/traces.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// scrape reads /metrics into metric families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// series returns the value of name{labels} (a histogram's count), and
// whether it exists.
func series(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsAndTraces drives a real server (SQLite) with an OTLP
// receiver: requests, an evaluation, KQL queries and a notice that fails
// for good show up in /metrics, and a request traced by its caller
// produces HTTP → store spans without its token or query string.
func TestMetricsAndTraces(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	_, smtpPort := startMailSink(t)
	cfg := fmt.Sprintf(`{"smtp":{"host":"127.0.0.1","port":%d,"tls":"none","from":"posture@example.com","timeout":"5s"}}`, smtpPort)
	cfgFile := filepath.Join(t.TempDir(), "notify.json")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	s := startServer(t, "--no-default-assignment", "--notify-config", cfgFile, "--queue-attempts", "1", "--otlp-endpoint", collector.URL)

	// An assignment (evaluated whole), a contact whose mail server refuses,
	// and a request whose notice therefore dies.
	for _, d := range []struct{ path, body string }{
		{reqSub + "?api-version=2022-12-01", `{"displayName":"apps"}`},
		{reqSub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn?api-version=2022-06-01", `{"properties":{"policyDefinitionId":"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}`},
		{reqRG + "?api-version=2021-04-01", `{"location":"westeurope"}`},
		{reqSub + "/providers/Microsoft.Security/securityContacts/default?api-version=2020-01-01-preview", `{"properties":{"emails":"refuse@example.com"}}`},
	} {
		if code, _, b := s.raw(t, http.MethodPut, d.path, d.body); code >= 300 {
			t.Fatalf("PUT %s: %d %s", d.path, code, b)
		}
	}
	body := fmt.Sprintf(`{"properties":{"assessmentKey":%q,"exemptionCategory":"Mitigated","justification":"A WAF terminates TLS."}}`, secureTransferKey)
	if code, _, b := s.raw(t, http.MethodPut, requestPath+"whole-sub"+reqVersion, body); code != http.StatusCreated {
		t.Fatalf("filing: %d %s", code, b)
	}
	// Two KQL queries: one answered (3 rows: the tenant root group, the
	// subscription and the resource group), one invalid.
	const graphPath = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01"
	if code, _, b := s.raw(t, http.MethodPost, graphPath, `{"query":"resourcecontainers | project id"}`); code != 200 || !strings.Contains(string(b), `"totalRecords":3`) {
		t.Fatalf("query: %d %s", code, b)
	}
	if code, _, b := s.raw(t, http.MethodPost, graphPath, `{"query":"resources | where nosuchcolumn == 1"}`); code != 400 {
		t.Fatalf("invalid query: %d %s", code, b)
	}
	// A request traced by its caller, with a marker in its query string.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if code, _, b := s.raw(t, http.MethodGet, "/subscriptions?api-version=2022-12-01&marker=querysecret", "",
		"traceparent", "00-"+traceID+"-"+parentID+"-01"); code != 200 {
		t.Fatalf("traced request: %d %s", code, b)
	}
	eventually(t, "the dead letter", func() bool {
		b := s.get(t, "/providers/Posture.Queue/jobs?api-version=2026-11-01&$filter=state eq 'Dead'")
		return bytes.Contains(b, []byte(`"state":"Dead"`))
	})

	mfs := scrape(t, s.url)
	if n, _ := series(mfs, "posture_http_request_duration_seconds", "route", "microsoft.resources/subscriptions[]", "method", "GET"); n != 1 {
		t.Errorf("GET /subscriptions requests: %v", n)
	}
	for _, m := range mfs["posture_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), "/subscriptions/") {
				t.Errorf("a route label is a path: %s", l.GetValue())
			}
		}
	}
	if n, _ := series(mfs, "posture_kql_query_duration_seconds"); n != 2 {
		t.Errorf("KQL queries timed: %v, want 2", n)
	}
	if n, _ := series(mfs, "posture_kql_query_rows"); n != 1 || mfs["posture_kql_query_rows"].GetMetric()[0].GetHistogram().GetSampleSum() != 3 {
		t.Errorf("KQL rows: %v observations, %v rows", n, mfs["posture_kql_query_rows"].GetMetric()[0].GetHistogram().GetSampleSum())
	}
	// The same three rows held in memory, and their strings.
	if n, _ := series(mfs, "posture_kql_table_rows", "table", "ResourceContainers"); n != 3 {
		t.Errorf("ResourceContainers rows: %v, want 3", n)
	}
	if n, _ := series(mfs, "posture_kql_dictionary_strings"); n < 3 {
		t.Errorf("dictionary strings: %v, want at least the three ids", n)
	}
	if n, _ := series(mfs, "posture_kql_dictionary_bytes"); n < 4096 {
		t.Errorf("dictionary bytes: %v, want at least its first page", n)
	}
	if n, _ := series(mfs, "posture_kql_query_errors_total"); n != 1 {
		t.Errorf("KQL errors: %v", n)
	}
	if n, _ := series(mfs, "posture_evaluation_duration_seconds", "kind", "assignment"); n < 1 {
		t.Errorf("assignment evaluations: %v", n)
	}
	if n, _ := series(mfs, "posture_evaluation_resources", "kind", "write"); n < 1 {
		t.Errorf("write evaluations: %v", n)
	}
	if n, _ := series(mfs, "posture_queue_job_runs_total", "outcome", "dead"); n != 1 {
		t.Errorf("dead job runs: %v", n)
	}
	if n, _ := series(mfs, "posture_queue_jobs", "state", "Dead"); n != 1 {
		t.Errorf("dead letters in the queue: %v", n)
	}
	if n, _ := series(mfs, "posture_store_transaction_duration_seconds", "mode", "write"); n < 5 {
		t.Errorf("write transactions: %v", n)
	}
	gaugeHead, ok := series(mfs, "posture_ledger_head_seq")
	store, err := sqlite.Open(context.Background(), s.data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var head int64
	store.Read(context.Background(), func(tx posture.Tx) error { head, _, err = tx.LedgerHead(); return err })
	store.Close()
	if !ok || head == 0 || gaugeHead != float64(head) {
		t.Errorf("ledger head: gauge %v (%v), store %d", gaugeHead, ok, head)
	}

	// Stop the server: the spans are flushed.
	s.stop()
	select {
	case code := <-s.exit:
		s.exit <- code
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown")
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	byID := map[string]*tracepb.Span{}
	for _, sp := range recv.spans {
		byID[hex.EncodeToString(sp.SpanId)] = sp
		text := sp.String()
		for _, leak := range []string{s.token, "querysecret", "api-version", "refuse@example.com"} {
			if strings.Contains(text, leak) {
				t.Errorf("span %q carries %q", sp.Name, leak)
			}
		}
	}
	var request *tracepb.Span
	for _, sp := range recv.spans {
		if hex.EncodeToString(sp.TraceId) == traceID && hex.EncodeToString(sp.ParentSpanId) == parentID {
			request = sp
		}
	}
	if request == nil {
		t.Fatalf("no server span under the caller's traceparent among %d spans", len(recv.spans))
	}
	if request.Name != "GET microsoft.resources/subscriptions[]" || request.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("request span: %q %v", request.Name, request.Kind)
	}
	reads := 0
	for _, sp := range recv.spans {
		if sp.Name == "store.read" && bytes.Equal(sp.ParentSpanId, request.SpanId) {
			reads++
			if hex.EncodeToString(sp.TraceId) != traceID || sp.StartTimeUnixNano < request.StartTimeUnixNano || sp.EndTimeUnixNano > request.EndTimeUnixNano {
				t.Errorf("store span outside its request: %v", sp)
			}
		}
	}
	if reads == 0 {
		t.Error("no store.read span under the request")
	}
	// The KQL query and the job have their spans, with store work under the
	// job.
	var kql, job *tracepb.Span
	for _, sp := range recv.spans {
		switch {
		case sp.Name == "kql query":
			kql = sp
		case strings.HasPrefix(sp.Name, "job "):
			job = sp
		}
	}
	if kql == nil || byID[hex.EncodeToString(kql.ParentSpanId)] == nil || !strings.Contains(byID[hex.EncodeToString(kql.ParentSpanId)].Name, "microsoft.resourcegraph") {
		t.Errorf("KQL span not under its request: %v", kql)
	}
	if job == nil {
		t.Fatal("no job span")
	}
	// The job runs in the trace of the request that filed it: up from its
	// span, through the transaction that enqueued it, to that PUT.
	var chain []string
	for sp := byID[hex.EncodeToString(job.ParentSpanId)]; sp != nil; sp = byID[hex.EncodeToString(sp.ParentSpanId)] {
		chain = append(chain, sp.Name)
		if !bytes.Equal(sp.TraceId, job.TraceId) {
			t.Errorf("span %q above the job is in another trace", sp.Name)
		}
	}
	if len(chain) < 2 || chain[0] != "store.write" || !strings.HasPrefix(chain[len(chain)-1], "PUT ") {
		t.Errorf("above the job span: %q, want the enqueuing store.write under the filing PUT", chain)
	}
	underJob := 0
	for _, sp := range recv.spans {
		if strings.HasPrefix(sp.Name, "store.") && bytes.Equal(sp.ParentSpanId, job.SpanId) {
			underJob++
		}
	}
	if underJob == 0 {
		t.Error("no store span under the job")
	}
}
