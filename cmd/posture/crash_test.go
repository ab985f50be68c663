package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/consistency"
	"github.com/posture/posture/internal/pgtest"
)

// The crash harness (issue 12, crash safety). posture serve runs as a real
// child process; concurrent writers PUT and DELETE policy exemptions
// through the API and record what was acknowledged; then:
//
//   - sqlite, postgres: the server is killed with SIGKILL at a random
//     moment, posture check runs on the store the crash left (exit 0: the
//     policy states, Defender's assessments and scores agree with a
//     from-scratch recomputation and the ledger verifies), the server
//     restarts on it, and every acknowledged write must be there, an
//     acknowledged delete gone (writes in flight may go either way). 20
//     cycles each.
//   - postgres-restart: PostgreSQL goes down under the running server
//     (immediate stop, SIGKILL of every process, fast stop, in turn): the
//     server keeps running, /readyz says unready, API calls answer 503 with
//     an ARM error envelope (no hang, no 500), and once PostgreSQL is back
//     the server recovers by itself, loses no acknowledged write, and its
//     secure scores (kept in memory through the outage) equal posture
//     check's recomputation.
//
// Seeds are logged; POSTURE_CRASH_SEED replays one.

const (
	crashCycles    = 20
	restartCycles  = 6
	crashWriters   = 4
	crashPerWriter = 5
)

// crashSeed returns the seed of a run: POSTURE_CRASH_SEED, else random.
func crashSeed(t *testing.T) uint64 {
	seed := rand.Uint64()
	if v := getenv("POSTURE_CRASH_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (POSTURE_CRASH_SEED=%d replays it)", seed, seed)
	return seed
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash harness builds posture and kills it 40 times")
	}
	bin := buildPosture(t)
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		crashCyclesOn(t, bin, data, []string{"--data", data}, []string{"--data", data})
	})
	t.Run("postgres", func(t *testing.T) {
		c := pgtest.Start(t)
		data := t.TempDir() // the bootstrap token and the ledger key
		crashCyclesOn(t, bin, data, []string{"--data", data, "--database-url", c.URL}, []string{"--data", data, "--database-url", c.URL})
	})
	t.Run("postgres-restart", func(t *testing.T) {
		postgresRestarts(t, bin)
	})
}

// crashCyclesOn runs the kill -9 cycles against the store that serveArgs
// and checkArgs name.
func crashCyclesOn(t *testing.T, bin, data string, serveArgs, checkArgs []string) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	start := time.Now()
	p := startProc(t, bin, append(serveArgs, "--demo")...)
	targets := crashTargets(t, p, rng, crashWriters, crashPerWriter)
	var total writeStats
	lost := 0
	for cycle := 1; cycle <= crashCycles; cycle++ {
		var stats writeStats
		stop := runWriters(p, targets, stopOnFailure, rng.Uint64(), &stats)
		// A random moment: early (the first writes in flight) to late
		// (hundreds acknowledged).
		time.Sleep(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		p.kill()
		for _, err := range stop() {
			t.Errorf("cycle %d: %v", cycle, err)
		}
		// The store as the crash left it, before a server repairs anything.
		rep := runCheck(t, bin, checkArgs...)
		p = startProc(t, bin, serveArgs...)
		losses := verifyTargets(t, p, targets)
		for _, l := range losses {
			t.Errorf("cycle %d: %s", cycle, l)
		}
		n := len(losses)
		lost += n
		total.acked.Add(stats.acked.Load())
		total.unacked.Add(stats.unacked.Load())
		t.Logf("cycle %2d: %4d writes acknowledged, %d in flight at the kill, %d lost; check: %d state rows, %d assessments, %d ledger entries",
			cycle, stats.acked.Load(), stats.unacked.Load(), n, rep.States.Rows, rep.Defender.Assessments, rep.Ledger.Entries)
		if t.Failed() {
			t.FailNow()
		}
		if stats.acked.Load() == 0 && cycle > 1 {
			t.Logf("cycle %d: no write was acknowledged before the kill", cycle)
		}
	}
	if total.acked.Load() < crashCycles {
		t.Errorf("only %d writes acknowledged over %d cycles: the harness did not write", total.acked.Load(), crashCycles)
	}
	t.Logf("FIGURES %s: %d cycles, %d writes acknowledged, %d in flight at kills, %d lost, %s",
		t.Name(), crashCycles, total.acked.Load(), total.unacked.Load(), lost, time.Since(start).Round(time.Millisecond))
}

// postgresRestarts takes PostgreSQL down and up under a running server.
func postgresRestarts(t *testing.T, bin string) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	start := time.Now()
	c := pgtest.Start(t)
	data := t.TempDir()
	args := []string{"--data", data, "--database-url", c.URL}
	p := startProc(t, bin, append(args, "--demo")...)
	targets := crashTargets(t, p, rng, crashWriters, crashPerWriter)
	// The probe is written only while the database is down.
	first := targets[0][0]
	probe := &target{id: first.id[:strings.LastIndex(first.id, "/")] + "/crash-probe", body: first.body}
	probeURL := probe.id + "?api-version=" + exemptionVersion
	client := &http.Client{Timeout: 30 * time.Second}
	var total writeStats
	lost := 0
	modes := []string{"immediate", "kill", "fast"}
	for cycle := 1; cycle <= restartCycles; cycle++ {
		mode := modes[(cycle-1)%len(modes)]
		var stats writeStats
		stop := runWriters(p, targets, goOnWhenUnavailable, rng.Uint64(), &stats)
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		down := time.Now()
		var err error
		if mode == "kill" {
			err = c.KillAll()
		} else {
			err = c.Stop(mode)
		}
		if err != nil {
			stop()
			t.Fatal(err)
		}
		// Down: unready, 503 envelopes, alive.
		if err := p.waitReady(15*time.Second, false); err != nil {
			stop()
			t.Fatalf("cycle %d (%s): %v\n%s", cycle, mode, err, p.log)
		}
		unready := time.Since(down)
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			body := ""
			if m == "PUT" {
				body = fmt.Sprintf(probe.body, fmt.Sprintf("during outage %d", cycle))
				probe.unacked = append(probe.unacked, outcome{present: true, desc: fmt.Sprintf("during outage %d", cycle)})
			}
			t0 := time.Now()
			resp, b, err := p.do(context.Background(), client, m, probeURL, body)
			if err != nil {
				stop()
				t.Fatalf("cycle %d (%s): %s during the outage: %v", cycle, mode, m, err)
			}
			if _, ok := armEnvelope(b); resp.StatusCode != http.StatusServiceUnavailable || !ok {
				stop()
				t.Fatalf("cycle %d (%s): %s during the outage answered %d in %s: %s", cycle, mode, m, resp.StatusCode, time.Since(t0), b)
			}
		}
		if p.hasReadyz() {
			// Liveness stays up: restarting posture would not bring the
			// database back.
			resp, err := client.Get(p.url + "/healthz")
			if err != nil || resp.StatusCode != http.StatusOK {
				stop()
				t.Fatalf("cycle %d (%s): /healthz during the outage: %v %v", cycle, mode, resp, err)
			}
			resp.Body.Close()
		}
		time.Sleep(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
		if !p.alive() {
			stop()
			t.Fatalf("cycle %d (%s): posture serve died with the database:\n%s", cycle, mode, p.log)
		}
		acked := stats.acked.Load()
		if err := c.StartServer(); err != nil {
			stop()
			t.Fatal(err)
		}
		up := time.Now()
		if err := p.waitReady(60*time.Second, true); err != nil {
			stop()
			t.Fatalf("cycle %d (%s): no recovery: %v\n%s", cycle, mode, err, p.log)
		}
		recovered := time.Since(up)
		// Writes go through again.
		deadline := time.Now().Add(30 * time.Second)
		for stats.acked.Load() < acked+20 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		for _, err := range stop() {
			t.Errorf("cycle %d (%s): %v", cycle, mode, err)
		}
		if t.Failed() {
			t.Fatalf("the server's log:\n%s", tail(p.log.String(), 8000))
		}
		if stats.acked.Load() < acked+20 {
			t.Fatalf("cycle %d (%s): writes do not go through after the database came back (%d acknowledged since)", cycle, mode, stats.acked.Load()-acked)
		}
		losses := verifyTargets(t, p, append(targets, []*target{probe}))
		for _, l := range losses {
			t.Errorf("cycle %d (%s): %s", cycle, mode, l)
		}
		n := len(losses)
		lost += n
		rep := runCheck(t, bin, args...)
		compareLiveScores(t, p, rep)
		total.acked.Add(stats.acked.Load())
		total.unavailable.Add(stats.unavailable.Load())
		t.Logf("cycle %d (%-9s): %4d writes acknowledged, %3d answered 503, %d lost; unready %s after the stop, ready %s after the start",
			cycle, mode, stats.acked.Load(), stats.unavailable.Load(), n, unready.Round(time.Millisecond), recovered.Round(time.Millisecond))
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("FIGURES %s: %d outages, %d writes acknowledged, %d answered 503, %d lost, %s",
		t.Name(), restartCycles, total.acked.Load(), total.unavailable.Load(), lost, time.Since(start).Round(time.Millisecond))
}

// compareLiveScores checks that the running server's secure scores, which
// it keeps by counters in memory, equal the scores recomputed from
// scratch.
func compareLiveScores(t *testing.T, p *proc, rep *consistency.Report) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	for _, s := range rep.Defender.Scores {
		resp, b, err := p.do(context.Background(), c, "GET", s.Subscription+"/providers/Microsoft.Security/secureScores/ascScore?api-version=2020-01-01", "")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("secure score of %s: %v %s", s.Subscription, err, b)
		}
		var doc struct {
			Properties struct {
				Score struct {
					Max        int
					Current    float64
					Percentage float64
				}
				Weight int
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		live := consistency.Score{Current: doc.Properties.Score.Current, Max: doc.Properties.Score.Max, Percentage: doc.Properties.Score.Percentage, Weight: doc.Properties.Weight}
		if live != s.Fresh {
			t.Errorf("the server's secure score of %s is %s; recomputed from scratch: %s", s.Subscription, live, s.Fresh)
		}
	}
}

// getenv is os.Getenv, trimmed.
func getenv(k string) string { return strings.TrimSpace(os.Getenv(k)) }

// tail is the end of a log.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestCrashHarnessSeesLoss: the harness's verdict is not vacuous. Writers
// run against a server; then an acknowledged exemption is deleted and
// another rewritten behind their back, and the harness must call exactly
// those two writes lost, and nothing else.
func TestCrashHarnessSeesLoss(t *testing.T) {
	t.Setenv("POSTURE_BOOTSTRAP_TOKEN", crashToken)
	s := startServer(t, "--demo")
	p := &proc{url: s.url, exited: make(chan struct{})}
	rng := rand.New(rand.NewPCG(1, 2))
	targets := crashTargets(t, p, rng, 2, 3)
	var stats writeStats
	stop := runWriters(p, targets, stopOnFailure, 3, &stats)
	deadline := time.Now().Add(30 * time.Second)
	for stats.acked.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, err := range stop() {
		t.Fatal(err)
	}
	if losses := verifyTargets(t, p, targets); len(losses) != 0 {
		t.Fatalf("losses without a crash: %v", losses)
	}
	// Make sure two targets exist, acknowledged.
	var present []*target
	for _, ts := range targets {
		tg := ts[0]
		code, h, b := s.raw(t, "PUT", tg.id+"?api-version="+exemptionVersion, fmt.Sprintf(tg.body, "acknowledged "+tg.id))
		if code/100 != 2 {
			t.Fatalf("PUT: %d %s", code, b)
		}
		tg.acked, tg.unacked = outcome{present: true, desc: "acknowledged " + tg.id, etag: h.Get("ETag")}, nil
		present = append(present, tg)
	}
	// Behind the harness's back: one deleted, one rewritten with the same
	// description (a new ETag).
	if code, _, b := s.raw(t, "DELETE", present[0].id+"?api-version="+exemptionVersion, ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, b)
	}
	if code, _, b := s.raw(t, "PUT", present[1].id+"?api-version="+exemptionVersion, strings.Replace(fmt.Sprintf(present[1].body, present[1].acked.desc), `"properties":{`, `"properties":{"displayName":"changed",`, 1)); code != 200 {
		t.Fatalf("PUT: %d %s", code, b)
	}
	losses := verifyTargets(t, p, targets)
	if len(losses) != 2 || !strings.Contains(losses[0], present[0].id+" is absent") || !strings.Contains(losses[1], present[1].id) {
		t.Fatalf("losses: %q", losses)
	}
	// A write in flight may have gone either way.
	tg := targets[0][1]
	tg.unacked = append(tg.unacked, outcome{present: !tg.acked.present, desc: "in flight"})
	if tg.acked.present {
		s.raw(t, "DELETE", tg.id+"?api-version="+exemptionVersion, "")
	} else {
		s.raw(t, "PUT", tg.id+"?api-version="+exemptionVersion, fmt.Sprintf(tg.body, "in flight"))
	}
	if losses := verifyTargets(t, p, targets); len(losses) != 0 {
		t.Fatalf("a write in flight that committed is called lost: %v", losses)
	}
}
