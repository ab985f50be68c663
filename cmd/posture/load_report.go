package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loadStats are the measured requests of one client (or of a step), by
// operation.
type loadStats map[string]*opStats

type opStats struct {
	latencies []time.Duration
	statuses  map[int]int // 0: a transport error (refused, reset, timeout)
	errors    int
	samples   map[int]string // the start of the first unexpected answer per status
}

// record counts one request: an error when it failed in transport or its
// status is not one the operation expects.
func (s loadStats) record(op *loadOp, res loadResult, d time.Duration) {
	name, ok := op.name, op.ok
	if res.op != "" {
		name, ok = res.op, loadOps[res.op].ok
	}
	o := s[name]
	if o == nil {
		o = &opStats{statuses: map[int]int{}, samples: map[int]string{}}
		s[name] = o
	}
	o.latencies = append(o.latencies, d)
	status := res.status
	if res.err != nil {
		status = 0
	}
	o.statuses[status]++
	if status == 0 || !ok(status) {
		o.errors++
		if _, seen := o.samples[status]; !seen {
			if res.err != nil {
				o.samples[status] = res.err.Error()
			} else {
				o.samples[status] = strings.TrimSpace(string(res.body))
			}
		}
	}
}

func (s loadStats) merge(other loadStats) {
	for name, o := range other {
		m := s[name]
		if m == nil {
			m = &opStats{statuses: map[int]int{}, samples: map[int]string{}}
			s[name] = m
		}
		m.latencies = append(m.latencies, o.latencies...)
		m.errors += o.errors
		for k, v := range o.statuses {
			m.statuses[k] += v
		}
		for k, v := range o.samples {
			if _, ok := m.samples[k]; !ok {
				m.samples[k] = v
			}
		}
	}
}

// summarize turns the stats of a step measured for d into its summary,
// operations by name, and the total over them.
func (s loadStats) summarize(d time.Duration) loadStep {
	step := loadStep{Seconds: d.Seconds()}
	total := &opStats{statuses: map[int]int{}, samples: map[int]string{}}
	for _, name := range slices.Sorted(maps.Keys(s)) {
		o := s[name]
		step.Operations = append(step.Operations, o.summary(name, d))
		total.latencies = append(total.latencies, o.latencies...)
		total.errors += o.errors
		for k, v := range o.statuses {
			total.statuses[k] += v
		}
	}
	step.Total = total.summary("total", d)
	return step
}

func (o *opStats) summary(name string, d time.Duration) opSummary {
	slices.Sort(o.latencies)
	s := opSummary{Name: name, Requests: len(o.latencies), Errors: o.errors, Statuses: map[string]int{}}
	s.RPS = math.Round(float64(s.Requests)/d.Seconds()*10) / 10
	if len(o.latencies) > 0 {
		s.P50Ms, s.P90Ms, s.P99Ms = millis(percentile(o.latencies, 50)), millis(percentile(o.latencies, 90)), millis(percentile(o.latencies, 99))
		s.MaxMs = millis(o.latencies[len(o.latencies)-1])
	}
	for k, v := range o.statuses {
		s.Statuses[statusName(k)] = v
	}
	for k, v := range o.samples {
		if s.ErrorSamples == nil {
			s.ErrorSamples = map[string]string{}
		}
		s.ErrorSamples[statusName(k)] = v
	}
	return s
}

func statusName(code int) string {
	if code == 0 {
		return "transport"
	}
	return strconv.Itoa(code)
}

// percentile is the p-th percentile of sorted latencies (nearest rank: the
// smallest value with at least p% of the values at or below it).
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadStep is one step's result.
type loadStep struct {
	Clients        int     `json:"clients,omitempty"`
	Rate           int     `json:"rate,omitempty"`
	Seconds        float64 `json:"seconds"`
	NotSent        int     `json:"notSent,omitempty"`
	GeneratorCores float64 `json:"generatorCores"`
	// ServerCores and ServerCPUPerRequestUs (with --server-pid): the CPU
	// of the server processes over the step, warmup included, and per
	// request sent in it.
	ServerCores           float64     `json:"serverCores,omitempty"`
	ServerCPUPerRequestUs float64     `json:"serverCpuPerRequestUs,omitempty"`
	Operations            []opSummary `json:"operations"`
	Total                 opSummary   `json:"total"`
}

// opSummary is an operation's (or the total's) figures in a step.
type opSummary struct {
	Name         string            `json:"name"`
	Requests     int               `json:"requests"`
	Errors       int               `json:"errors"`
	RPS          float64           `json:"rps"`
	P50Ms        float64           `json:"p50Ms"`
	P90Ms        float64           `json:"p90Ms"`
	P99Ms        float64           `json:"p99Ms"`
	MaxMs        float64           `json:"maxMs"`
	Statuses     map[string]int    `json:"statuses"`
	ErrorSamples map[string]string `json:"errorSamples,omitempty"`
}

// loadReport is what `posture load` prints.
type loadReport struct {
	Mode       string             `json:"mode"`
	URLs       []string           `json:"urls"`
	Mix        map[string]float64 `json:"mix"`
	Rate       int                `json:"rate,omitempty"`
	Duration   string             `json:"duration"`
	Warmup     string             `json:"warmup"`
	P99LimitMs float64            `json:"p99LimitMs"`
	MinGain    float64            `json:"minGain"`
	Steps      []loadStep         `json:"steps"`
	Knee       *loadKnee          `json:"degradation,omitempty"`
}

// loadKnee is where a closed-loop sweep stops scaling: the first step
// whose p99 is over the limit, or whose throughput is less than (1 +
// minGain) times the previous step's although it has more clients (the
// server is saturated: more clients only queue). Best is the step of
// highest throughput within the limit and without errors.
type loadKnee struct {
	Clients     int     `json:"clients,omitempty"` // 0: no step degraded
	Reason      string  `json:"reason,omitempty"`
	BestClients int     `json:"bestClients,omitempty"`
	BestRPS     float64 `json:"bestRps,omitempty"`
	BestP99Ms   float64 `json:"bestP99Ms,omitempty"`
}

func knee(steps []loadStep, limit time.Duration, minGain float64) *loadKnee {
	k := &loadKnee{}
	for i, s := range steps {
		if s.Total.Errors == 0 && s.Total.P99Ms <= millis(limit) && s.Total.RPS > k.BestRPS {
			k.BestClients, k.BestRPS, k.BestP99Ms = s.Clients, s.Total.RPS, s.Total.P99Ms
		}
		if k.Clients != 0 {
			continue
		}
		switch prev := steps[max(0, i-1)]; {
		case s.Total.P99Ms > millis(limit):
			k.Clients, k.Reason = s.Clients, fmt.Sprintf("p99 %.2f ms > %.2f ms", s.Total.P99Ms, millis(limit))
		case i > 0 && s.Clients > prev.Clients && s.Total.RPS < prev.Total.RPS*(1+minGain):
			k.Clients, k.Reason = s.Clients, fmt.Sprintf("%.0f req/s, %+.1f%% over %d clients (less than %+.0f%%)",
				s.Total.RPS, 100*(s.Total.RPS/prev.Total.RPS-1), prev.Clients, 100*minGain)
		}
	}
	return k
}

// errors is the number of failed measured requests.
func (r *loadReport) errors() int {
	n := 0
	for _, s := range r.Steps {
		n += s.Total.Errors
	}
	return n
}

func (r *loadReport) print(w io.Writer, format string) error {
	if format == formatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if r.Mode == "open" {
		fmt.Fprintf(w, "open loop at %d req/s, %s after %s warmup, %s\n", r.Rate, r.Duration, r.Warmup, strings.Join(r.URLs, " "))
	} else {
		fmt.Fprintf(w, "closed loop, %s per step after %s warmup, %s\n", r.Duration, r.Warmup, strings.Join(r.URLs, " "))
	}
	var mix []string
	for _, name := range slices.Sorted(maps.Keys(r.Mix)) {
		mix = append(mix, fmt.Sprintf("%s %.1f%%", name, 100*r.Mix[name]))
	}
	fmt.Fprintf(w, "mix: %s\n\n", strings.Join(mix, ", "))
	first := "CLIENTS"
	if r.Mode == "open" {
		first = "RATE"
	}
	width := len("OPERATION")
	for _, s := range r.Steps {
		for _, o := range s.Operations {
			width = max(width, len(o.Name))
		}
	}
	fmt.Fprintf(w, "%7s  %-*s %9s %7s %9s %8s %8s %8s %8s  %s\n", first, width, "OPERATION", "REQUESTS", "ERRORS", "REQ/S", "P50 MS", "P90 MS", "P99 MS", "MAX MS", "STATUSES")
	row := func(lead string, o opSummary) {
		fmt.Fprintf(w, "%7s  %-*s %9d %7d %9.1f %8.2f %8.2f %8.2f %8.2f  %s\n", lead, width, o.Name, o.Requests, o.Errors, o.RPS, o.P50Ms, o.P90Ms, o.P99Ms, o.MaxMs, statusesText(o.Statuses))
	}
	for _, s := range r.Steps {
		lead := strconv.Itoa(s.Clients)
		if r.Mode == "open" {
			lead = strconv.Itoa(s.Rate)
		}
		for _, o := range s.Operations {
			row(lead, o)
			lead = ""
		}
		row(lead, s.Total)
	}
	fmt.Fprintln(w)
	var cpu []string
	for _, s := range r.Steps {
		if r.Mode == "open" {
			cpu = append(cpu, fmt.Sprintf("%.2f", s.GeneratorCores))
			if s.NotSent > 0 {
				fmt.Fprintf(w, "not sent: %d requests (%d already in flight)\n", s.NotSent, maxInFlight)
			}
		} else {
			cpu = append(cpu, fmt.Sprintf("%d→%.2f", s.Clients, s.GeneratorCores))
		}
	}
	fmt.Fprintf(w, "generator CPU (cores): %s\n", strings.Join(cpu, " "))
	if len(r.Steps) > 0 && r.Steps[0].ServerCores > 0 {
		var srv []string
		for _, s := range r.Steps {
			srv = append(srv, fmt.Sprintf("%d→%.2f (%.0f µs/request)", max(s.Clients, s.Rate), s.ServerCores, s.ServerCPUPerRequestUs))
		}
		fmt.Fprintf(w, "server CPU (cores): %s\n", strings.Join(srv, " "))
	}
	if k := r.Knee; k != nil {
		if k.Clients != 0 {
			fmt.Fprintf(w, "latency degrades at %d clients: %s\n", k.Clients, k.Reason)
		} else {
			fmt.Fprintf(w, "no step degraded (p99 within %.2f ms, throughput growing)\n", r.P99LimitMs)
		}
		if k.BestClients != 0 {
			fmt.Fprintf(w, "best within p99 %.2f ms: %d clients, %.1f req/s, p99 %.2f ms\n", r.P99LimitMs, k.BestClients, k.BestRPS, k.BestP99Ms)
		}
	}
	for _, s := range r.Steps {
		for _, o := range s.Operations {
			for _, st := range slices.Sorted(maps.Keys(o.ErrorSamples)) {
				fmt.Fprintf(w, "error sample, %d clients, %s %s: %s\n", s.Clients, o.Name, st, o.ErrorSamples[st])
			}
		}
	}
	return nil
}

func statusesText(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
