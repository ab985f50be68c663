package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posture/posture/consistency"
)

// This file holds the crash harness's parts (crash_test.go runs them):
// posture serve as a child process, exemption writers that record what
// was acknowledged, and the checks after a crash.

// crashToken is the bootstrap token of the crash tests' servers.
const crashToken = "pst_crash-harness-bootstrap-token"

// buildPosture builds the binary once for a test and its subtests.
func buildPosture(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first on the PATH
	if err != nil {
		t.Skipf("no go command to build posture with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "posture")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built posture in %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// childEnv is the environment of the children: ours without POSTURE_*
// (kong reads every flag from one), plus the bootstrap token.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTURE_") {
			env = append(env, kv)
		}
	}
	return append(env, "POSTURE_BOOTSTRAP_TOKEN="+crashToken)
}

// proc is a `posture serve` child process.
type proc struct {
	cmd    *exec.Cmd
	url    string
	log    *safeBuffer // standard output and error
	exited chan struct{}
}

// startProc starts posture serve with args and waits until it is ready.
func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{log: &safeBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	p.cmd.Env = childEnv()
	p.cmd.Stderr = p.log
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.log, line)
			if rest, ok := strings.CutPrefix(line, "posture is listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				select {
				case urls <- u:
				default:
				}
			}
		}
	}()
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case p.url = <-urls:
	case <-p.exited:
		t.Fatalf("posture serve exited (%v):\n%s", p.cmd.ProcessState, p.log)
	case <-time.After(2 * time.Minute):
		t.Fatalf("posture serve does not listen:\n%s", p.log)
	}
	if err := p.waitReady(2*time.Minute, true); err != nil {
		t.Fatalf("%v:\n%s", err, p.log)
	}
	return p
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// alive reports whether the process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// ready asks /readyz whether the server is ready; a server without it
// (it answers neither 200 nor 503) is asked /healthz, which then says
// whether the store answers.
func (p *proc) ready() (bool, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/readyz", "/healthz"} {
		resp, err := c.Get(p.url + path)
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable {
			return resp.StatusCode == http.StatusOK, nil
		}
	}
	return false, errors.New("neither /readyz nor /healthz answers 200 or 503")
}

// hasReadyz says whether the server has /readyz (and /healthz is
// liveness only).
func (p *proc) hasReadyz() bool {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(p.url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable
}

// waitReady waits until ready says want.
func (p *proc) waitReady(within time.Duration, want bool) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := p.ready()
		if err == nil && ok == want {
			return nil
		}
		if !p.alive() {
			return errors.New("posture serve exited")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz did not become %s within %s (last: %v %v)", map[bool]string{true: "ready", false: "unready"}[want], within, ok, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends one API request with the bootstrap token.
func (p *proc) do(ctx context.Context, c *http.Client, method, path, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+crashToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// armEnvelope reports whether b is an ARM error envelope with a code and
// a message.
func armEnvelope(b []byte) (code string, ok bool) {
	var e struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		return "", false
	}
	return e.Error.Code, true
}

const exemptionVersion = "2022-07-01-preview"

// outcome is what an exemption is after a write: absent, or present with
// a description (unique per write) and, when acknowledged, its ETag.
type outcome struct {
	present    bool
	desc, etag string
}

func (o outcome) String() string {
	if !o.present {
		return "absent"
	}
	if o.etag == "" {
		return fmt.Sprintf("present %q", o.desc)
	}
	return fmt.Sprintf("present %q etag %s", o.desc, o.etag)
}

// target is one exemption the writers write, at a fixed scope, with what
// is known of it: the last acknowledged outcome and the outcomes of the
// writes since that got no acknowledgement (any one of them may have
// committed).
type target struct {
	id, body string // body has a %s for the description
	acked    outcome
	unacked  []outcome
}

// matches reports whether o is an outcome the target may have.
func (tg *target) matches(o outcome) bool {
	same := func(want outcome) bool {
		if want.present != o.present {
			return false
		}
		return !want.present || want.desc == o.desc && (want.etag == "" || want.etag == o.etag)
	}
	if same(tg.acked) {
		return true
	}
	for _, u := range tg.unacked {
		if same(u) {
			return true
		}
	}
	return false
}

// crashTargets picks the exemptions the writers write: per writer, several
// on resources, one on a resource group and, for the first writer, one on
// a subscription (an exemption there re-stamps a whole subscription's
// states: a longer transaction to crash in). Half are Waivers (with an
// expiry, as the governance rules ask), half Mitigated.
func crashTargets(t *testing.T, p *proc, rng *rand.Rand, writers, perWriter int) [][]*target {
	t.Helper()
	ctx := context.Background()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, b, err := p.do(ctx, c, "GET", "/subscriptions?api-version=2022-12-01", "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscriptions: %v %s", err, b)
	}
	var subs struct{ Value []struct{ ID string } }
	json.Unmarshal(b, &subs)
	var resources, groups []string
	for _, s := range subs.Value {
		resp, b, err := p.do(ctx, c, "GET", s.ID+"/resources?api-version=2022-12-01", "")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("resources: %v %s", err, b)
		}
		var page struct{ Value []struct{ ID string } }
		json.Unmarshal(b, &page)
		for _, r := range page.Value {
			resources = append(resources, r.ID)
		}
		resp, b, err = p.do(ctx, c, "GET", s.ID+"/resourcegroups?api-version=2022-12-01", "")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("resource groups: %v %s", err, b)
		}
		json.Unmarshal(b, &page)
		for _, r := range page.Value {
			groups = append(groups, r.ID)
		}
	}
	if len(resources) < writers*perWriter || len(groups) < writers || len(subs.Value) == 0 {
		t.Fatalf("the demo estate is too small: %d resources, %d groups", len(resources), len(groups))
	}
	rng.Shuffle(len(resources), func(i, j int) { resources[i], resources[j] = resources[j], resources[i] })
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	expires := time.Now().UTC().Add(20 * 24 * time.Hour).Format(time.RFC3339)
	out := make([][]*target, writers)
	n := 0
	for w := range writers {
		scopes := append([]string{groups[w]}, resources[w*perWriter:(w+1)*perWriter-1]...)
		if w == 0 {
			scopes[len(scopes)-1] = subs.Value[0].ID
		}
		for i, scope := range scopes {
			sub := strings.Join(strings.Split(scope, "/")[:3], "/")
			assignment := sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
			props := fmt.Sprintf(`"policyAssignmentId":%q,"exemptionCategory":"Mitigated"`, assignment)
			if n%2 == 0 {
				props = fmt.Sprintf(`"policyAssignmentId":%q,"exemptionCategory":"Waiver","expiresOn":%q`, assignment, expires)
			}
			n++
			out[w] = append(out[w], &target{
				id:   fmt.Sprintf("%s/providers/Microsoft.Authorization/policyExemptions/crash-w%d-%d", scope, w, i),
				body: `{"properties":{` + props + `,"description":"%s"}}`,
			})
		}
	}
	return out
}

// writeStats counts writes.
type writeStats struct {
	acked, unacked, unavailable atomic.Int64
}

// writerMode says what a writer does when a write gets no
// acknowledgement.
type writerMode int

const (
	// stopOnFailure: the server was killed; the writer stops.
	stopOnFailure writerMode = iota
	// goOnWhenUnavailable: the database is down under a running server,
	// which must answer 503 with an ARM envelope; the writer goes on.
	goOnWhenUnavailable
)

// runWriter PUTs and DELETEs its targets at random until ctx ends (or, in
// stopOnFailure mode, a write fails), recording each outcome. Errors that
// the mode does not allow go to errs.
func runWriter(ctx context.Context, p *proc, w int, targets []*target, mode writerMode, rng *rand.Rand, stats *writeStats, errs chan<- error) {
	c := &http.Client{Timeout: 30 * time.Second} // a hang is a failure, not a wait
	for seq := 0; ctx.Err() == nil; seq++ {
		tg := targets[rng.IntN(len(targets))]
		put := rng.IntN(10) < 7
		var want outcome
		var resp *http.Response
		var b []byte
		var err error
		// The request is not tied to ctx: a kill or an outage must find
		// writes in flight, not writes the test cancelled itself.
		if put {
			want = outcome{present: true, desc: fmt.Sprintf("w%d-%d-%d", w, seq, rng.Uint32())}
			resp, b, err = p.do(context.Background(), c, "PUT", tg.id+"?api-version="+exemptionVersion, fmt.Sprintf(tg.body, want.desc))
		} else {
			resp, b, err = p.do(context.Background(), c, "DELETE", tg.id+"?api-version="+exemptionVersion, "")
		}
		switch {
		case err == nil && resp.StatusCode/100 == 2:
			if put {
				want.etag = resp.Header.Get("ETag")
				var doc struct {
					Properties struct{ Description string } `json:"properties"`
				}
				if json.Unmarshal(b, &doc) != nil || doc.Properties.Description != want.desc || want.etag == "" {
					errs <- fmt.Errorf("PUT %s answered %d without the document written (etag %q): %s", tg.id, resp.StatusCode, want.etag, b)
					return
				}
			}
			tg.acked, tg.unacked = want, nil
			stats.acked.Add(1)
		case mode == stopOnFailure && (err != nil || resp.StatusCode >= 500):
			// The server died under it: the write may or may not have
			// committed.
			tg.unacked = append(tg.unacked, want)
			stats.unacked.Add(1)
			return
		case mode == goOnWhenUnavailable && err == nil && resp.StatusCode == http.StatusServiceUnavailable:
			tg.unacked = append(tg.unacked, want)
			stats.unacked.Add(1)
			stats.unavailable.Add(1)
			if _, ok := armEnvelope(b); !ok || resp.Header.Get("Retry-After") == "" {
				errs <- fmt.Errorf("%s %s answered 503 without an ARM error envelope or Retry-After: %s", map[bool]string{true: "PUT", false: "DELETE"}[put], tg.id, b)
				return
			}
			time.Sleep(20 * time.Millisecond)
		case err != nil:
			tg.unacked = append(tg.unacked, want)
			errs <- fmt.Errorf("writer %d: %s %s: %v", w, map[bool]string{true: "PUT", false: "DELETE"}[put], tg.id, err)
			return
		default:
			tg.unacked = append(tg.unacked, want)
			errs <- fmt.Errorf("writer %d: %s %s answered %d: %s", w, map[bool]string{true: "PUT", false: "DELETE"}[put], tg.id, resp.StatusCode, b)
			return
		}
	}
}

// runWriters runs one writer per target list until stop is called; stop
// waits for them and returns the errors they met.
func runWriters(p *proc, targets [][]*target, mode writerMode, seed uint64, stats *writeStats) (stop func() []error) {
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, len(targets))
	var wg sync.WaitGroup
	for w, ts := range targets {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() { runWriter(ctx, p, w, ts, mode, rng, stats, errs) })
	}
	return func() []error {
		cancel()
		wg.Wait()
		close(errs)
		var out []error
		for err := range errs {
			out = append(out, err)
		}
		return out
	}
}

// verifyTargets reads every target back and checks it against what was
// acknowledged; it returns the writes lost, described. Afterwards each
// target's acknowledged outcome is what the server has.
func verifyTargets(t *testing.T, p *proc, targets [][]*target) (lost []string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	for _, ts := range targets {
		for _, tg := range ts {
			resp, b, err := p.do(context.Background(), c, "GET", tg.id+"?api-version="+exemptionVersion, "")
			if err != nil {
				t.Fatalf("GET %s: %v", tg.id, err)
			}
			var got outcome
			switch resp.StatusCode {
			case http.StatusOK:
				var doc struct {
					Properties struct{ Description string } `json:"properties"`
				}
				json.Unmarshal(b, &doc)
				got = outcome{present: true, desc: doc.Properties.Description, etag: resp.Header.Get("ETag")}
			case http.StatusNotFound:
			default:
				t.Fatalf("GET %s: %d %s", tg.id, resp.StatusCode, b)
			}
			if !tg.matches(got) {
				lost = append(lost, fmt.Sprintf("LOST: %s is %s; acknowledged %s (unacknowledged since: %v)", tg.id, got, tg.acked, tg.unacked))
			}
			tg.acked, tg.unacked = got, nil
		}
	}
	return lost
}

// runCheck runs posture check on the store and fails the test unless it
// reports the store consistent; it returns the report.
func runCheck(t *testing.T, bin string, args ...string) *consistency.Report {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"check", "-o", "json"}, args...)...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var rep consistency.Report
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("posture check: %v, output not JSON (%v):\n%s\n%s", err, jerr, stdout.String(), stderr.String())
	}
	if err != nil || !rep.Consistent {
		t.Fatalf("posture check: %v (exit %d): the store is inconsistent:\n%s\n%s", err, cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	}
	if rep.States.Rows == 0 || rep.Defender.Assessments == 0 || rep.Ledger.Entries == 0 {
		t.Fatalf("posture check checked nothing: %s", stdout.String())
	}
	return &rep
}
