package compliance_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/demo"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/internal/pgtest"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/queue"
	"github.com/posture/posture/sqlite"
)

// jobEnv is an estate of the demo generator over SQLite, evaluated with
// evaluation jobs of a few resources each (or inline, for comparison).
type jobEnv struct {
	t      testing.TB
	store  posture.Store
	svc    *compliance.Service
	estate *estate.Service
	feed   *changeLog
	clock  *clock
}

// changeLog records the changes the service publishes.
type changeLog struct {
	mu      sync.Mutex
	changes []*posture.Change
}

func (l *changeLog) Publish(c *posture.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *changeLog) take() []*posture.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.changes
	l.changes = nil
	return out
}

// landingZones is the demo's management group above its subscriptions.
const landingZones = "/providers/Microsoft.Management/managementGroups/contoso-landingzones"

func newJobEnv(t testing.TB, jobs compliance.EvalJobs, resources int) *jobEnv {
	return newJobEnvOn(t, "sqlite", jobs, resources)
}

// engines are the stores a test runs on: SQLite, and PostgreSQL when
// POSTURE_TEST_POSTGRES_URL is set.
func engines() []string {
	if os.Getenv("POSTURE_TEST_POSTGRES_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// openStore opens an empty store of an engine (PostgreSQL: a schema of
// its own, dropped at the end).
func openStore(t testing.TB, engine string, now posture.Clock) posture.Store {
	t.Helper()
	ctx := context.Background()
	var store posture.Store
	var err error
	switch engine {
	case "sqlite":
		store, err = sqlite.Open(ctx, t.TempDir(), now)
	default:
		store, err = postgres.Open(ctx, pgtest.Schema(t, "t_evaljobs"), now)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newJobEnvOn(t testing.TB, engine string, jobs compliance.EvalJobs, resources int) *jobEnv {
	t.Helper()
	ctx := context.Background()
	e := &jobEnv{t: t, feed: &changeLog{}, clock: &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}}
	store := openStore(t, engine, e.clock.Now)
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var mu posture.LocalWriteLock
	e.store = store
	e.svc = &compliance.Service{Store: store, Registry: reg, Now: e.clock.Now, WriteMu: &mu, Feed: e.feed, EvalJobs: jobs,
		Logger: slog.New(slog.DiscardHandler)}
	e.estate = &estate.Service{Store: store, Now: e.clock.Now, Observer: e.svc, WriteMu: &mu}
	if _, err := e.estate.EnsureTenant(ctx, demo.TenantID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var batch []*posture.Resource
	err = (&demo.Generator{Seed: 3, Resources: resources, Subscriptions: 2}).Each(func(doc []byte) error {
		r, err := armdoc.Normalize(doc)
		if err != nil {
			return err
		}
		batch = append(batch, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.estate.ImportResources(ctx, batch); err != nil {
		t.Fatal(err)
	}
	e.feed.take()
	return e
}

// assign puts the benchmark at the landing zones (both subscriptions),
// without the resource groups in notScopes.
func (e *jobEnv) assign(name string, notScopes ...string) string {
	ns := "[]"
	if len(notScopes) > 0 {
		ns = `["` + strings.Join(notScopes, `","`) + `"]`
	}
	return e.assignWith(name, `"notScopes":`+ns)
}

// assignWith puts the benchmark at the landing zones with more properties.
func (e *jobEnv) assignWith(name, properties string) string {
	e.t.Helper()
	id := landingZones + "/providers/Microsoft.Authorization/policyAssignments/" + name
	pid, err := armid.Parse(id)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := armdoc.FromPut(pid, fmt.Appendf(nil, `{"properties":{"policyDefinitionId":"%s",%s}}`, policy.MCSBv1ID, properties))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.PutPolicyObject(context.Background(), r, ""); err != nil {
		e.t.Fatal(err)
	}
	return strings.ToLower(id)
}

// states returns every stored state of an assignment, times left out.
func (e *jobEnv) states(assignment string) map[string][]posture.PolicyState {
	e.t.Helper()
	out := map[string][]posture.PolicyState{}
	f := posture.PolicyStateFilter{AssignmentKey: assignment, Limit: 1000}
	for {
		rows, next, err := e.svc.PolicyStates(context.Background(), f)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range rows {
			ss := slices.Clone(r.States)
			for i := range ss {
				ss[i].FirstEvaluated, ss[i].ChangedAt = time.Time{}, time.Time{}
			}
			out[r.ResourceKey] = ss
		}
		if next == "" {
			return out
		}
		f.After = next
	}
}

func (e *jobEnv) evaluating(assignment string) bool {
	e.t.Helper()
	busy, err := e.svc.Evaluating(context.Background(), assignment)
	if err != nil {
		e.t.Fatal(err)
	}
	return busy
}

// drain runs the queued jobs with the service's handlers and returns how
// many ran.
func (e *jobEnv) drain() int {
	e.t.Helper()
	q := &queue.Queue{Store: e.store, Now: e.clock.Now, Handlers: map[string]queue.Handler{}, Logger: slog.New(slog.DiscardHandler)}
	for k, h := range e.svc.Handlers() {
		q.Handlers[k] = h
	}
	n, err := q.Drain(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// jobs returns the jobs of an assignment by kind, checking that none
// failed.
func (e *jobEnv) jobs(assignment string) map[string]int {
	e.t.Helper()
	var js []*posture.Job
	err := e.store.Read(context.Background(), func(tx posture.Tx) error {
		var err error
		js, err = tx.Jobs(posture.JobFilter{Ref: assignment})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, j := range js {
		if j.State == posture.JobDead || j.LastError != "" {
			e.t.Errorf("job %s: %s %s", j.Key, j.State, j.LastError)
		}
		out[j.Kind+" "+j.State]++
	}
	return out
}

// TestLargeScopeEvaluatedByJobs: an assignment over more resources than a
// chunk commits with a plan job and no states; the jobs evaluate the scope
// a chunk per transaction and change, and leave the same states as the
// inline evaluation of the same estate.
func TestLargeScopeEvaluatedByJobs(t *testing.T) {
	for _, engine := range engines() {
		t.Run(engine, func(t *testing.T) { testLargeScopeEvaluatedByJobs(t, engine) })
	}
}

func testLargeScopeEvaluatedByJobs(t *testing.T, engine string) {
	const resources, chunk = 120, 25
	inline := newJobEnvOn(t, engine, compliance.EvalJobs{}, resources)
	want := inline.states(inline.assign("bench"))
	if len(want) < 100 {
		t.Fatalf("the inline evaluation left states for %d resources; the test needs a larger scope", len(want))
	}

	e := newJobEnvOn(t, engine, compliance.EvalJobs{Queue: true, Chunk: chunk}, resources)
	a := e.assign("bench")
	if got := e.states(a); len(got) != 0 {
		t.Fatalf("the assignment write evaluated %d resources; it should have queued them", len(got))
	}
	if c := e.feed.take(); len(c) != 1 || len(c[0].States) != 0 {
		t.Fatalf("the assignment write published %d changes (want 1, without states)", len(c))
	}
	if !e.evaluating(a) {
		t.Fatal("Evaluating is false with the plan queued")
	}
	e.drain()
	if e.evaluating(a) {
		t.Error("Evaluating is true after the jobs ran")
	}
	if diff := cmp.Diff(want, e.states(a)); diff != "" {
		t.Errorf("states of the jobs differ from the inline evaluation (-inline +jobs):\n%s", diff)
	}
	kinds := e.jobs(a)
	// Each chunk job evaluates at most chunk resources, so the evaluation
	// took at least len(want)/chunk of them, each with its own change.
	if n := kinds[compliance.KindEvaluate+" "+posture.JobDone]; n < len(want)/chunk || kinds[compliance.KindEvaluatePlan+" "+posture.JobDone] != 1 {
		t.Errorf("jobs: %v; want 1 plan and at least %d evaluations", kinds, len(want)/chunk)
	}
	changes := e.feed.take()
	t.Logf("%d resources with states, jobs %v, %d changes", len(want), kinds, len(changes))
	rows := 0
	for _, c := range changes {
		if len(c.States) > chunk {
			t.Errorf("one change carries %d state rows; a chunk is %d resources", len(c.States), chunk)
		}
		rows += len(c.States)
	}
	if rows != len(want) {
		t.Errorf("the changes published %d state rows, want %d", rows, len(want))
	}

	// A new version of the assignment leaves out a resource group: its
	// plan drops the states there, as the inline evaluation does.
	var rg string
	for k := range want {
		if i := strings.Index(k, "/resourcegroups/"); i > 0 && strings.Count(k, "/") > 6 {
			rg = k[:i+len("/resourcegroups/")] + strings.Split(k[i+len("/resourcegroups/"):], "/")[0]
			break
		}
	}
	// States of resources the walk no longer meets (before, inside and
	// after the scope's keys) go too.
	var some string
	for k := range want {
		some = k
		break
	}
	stray := []string{"/providers/microsoft.management/managementgroups/a/stray", rg + "/providers/microsoft.storage/storageaccounts/gone",
		some + "/providers/microsoft.insights/diagnosticsettings/gone", "/subscriptions/~/stray"}
	err := e.store.Write(context.Background(), func(tx posture.Tx) error {
		var rows []*posture.ResourceStates
		for _, k := range stray {
			rows = append(rows, &posture.ResourceStates{ResourceKey: k, AssignmentKey: a, ResourceType: "x/y",
				States: []posture.PolicyState{{ReferenceID: "r", State: posture.StateNonCompliant}}})
		}
		return tx.PutPolicyStates(rows)
	})
	if err != nil {
		t.Fatal(err)
	}
	want = inline.states(inline.assign("bench", rg))
	e.assign("bench", rg)
	e.drain()
	got := e.states(a)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after notScopes, states differ (-inline +jobs):\n%s", diff)
	}
	for k := range got {
		if strings.HasPrefix(k, rg+"/") {
			t.Fatalf("%s keeps states under a resource group the assignment leaves out", k)
		}
	}
}

// TestSupersededPlanDoesNothing: jobs planned for an older version of an
// assignment skip their work; the plan of the current version does it.
func TestSupersededPlanDoesNothing(t *testing.T) {
	e := newJobEnv(t, compliance.EvalJobs{Queue: true, Chunk: 30}, 80)
	a := e.assign("bench")
	e.clock.Advance(time.Second)
	e.assignWith("bench", `"displayName":"v2"`) // a new ETag, the same scope
	e.feed.take()
	e.drain()
	kinds := e.jobs(a)
	if kinds[compliance.KindEvaluatePlan+" "+posture.JobDone] != 2 {
		t.Fatalf("jobs: %v; want two plans done", kinds)
	}
	// The first plan stopped at its plan job: only the second cut ranges.
	rows, states := 0, e.states(a)
	for _, c := range e.feed.take() {
		rows += len(c.States)
	}
	if len(states) == 0 || rows != len(states) {
		t.Errorf("published %d state rows for %d resources; the superseded plan should publish none", rows, len(states))
	}
}

// TestEvaluationResumesAfterACrash: a worker that claimed evaluation jobs
// and died leaves them to another once their lease runs out; the states
// end complete.
func TestEvaluationResumesAfterACrash(t *testing.T) {
	const chunk = 20
	inline := newJobEnv(t, compliance.EvalJobs{}, 100)
	want := inline.states(inline.assign("bench"))

	e := newJobEnv(t, compliance.EvalJobs{Queue: true, Chunk: chunk}, 100)
	a := e.assign("bench")
	ctx := context.Background()
	// Run the plan, then claim every range and run only the first two:
	// the worker "dies" holding the others.
	var plan, claimed []*posture.Job
	claim := func(into *[]*posture.Job) {
		err := e.store.Write(ctx, func(tx posture.Tx) error {
			js, err := tx.ClaimJobs(e.clock.Now(), time.Minute, 100)
			*into = js
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	claim(&plan)
	if len(plan) != 1 || plan[0].Kind != compliance.KindEvaluatePlan {
		t.Fatalf("claimed %v, want the plan", plan)
	}
	h := e.svc.Handlers()
	if err := h[plan[0].Kind](ctx, plan[0]); err != nil {
		t.Fatal(err)
	}
	claim(&claimed)
	if len(claimed) < 100/chunk {
		t.Fatalf("the plan queued %d ranges for 100 resources in chunks of %d", len(claimed), chunk)
	}
	for _, j := range claimed[:2] {
		if err := h[j.Kind](ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(e.states(a)); got == 0 || got >= len(want) {
		t.Fatalf("after 2 of %d ranges: states for %d of %d resources", len(claimed), got, len(want))
	}
	if !e.evaluating(a) {
		t.Error("Evaluating is false with ranges left")
	}
	// Nothing is due while the dead worker's lease holds.
	if n := e.drain(); n != 0 {
		t.Fatalf("ran %d jobs under a live lease", n)
	}
	e.clock.Advance(2 * time.Minute)
	e.drain()
	if diff := cmp.Diff(want, e.states(a)); diff != "" {
		t.Errorf("states after the resumed evaluation differ (-inline +jobs):\n%s", diff)
	}
	if e.evaluating(a) {
		t.Error("Evaluating is true after every range ran")
	}
}

// TestStaleEstateReevaluatedInChunks: without a queue, Start re-evaluates
// a stale estate a chunk per transaction (one change each) and leaves the
// states an inline evaluation leaves; with one, it queues the large
// assignments.
func TestStaleEstateReevaluatedInChunks(t *testing.T) {
	ctx := context.Background()
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprint("queue=", queued), func(t *testing.T) {
			const chunk = 15
			e := newJobEnv(t, compliance.EvalJobs{}, 70)
			a := e.assign("bench")
			want := e.states(a)
			// Drop the states and mark the estate stale, as an offline
			// import does.
			err := e.store.Write(ctx, func(tx posture.Tx) error {
				if err := tx.DeletePolicyStatesOfAssignment(a); err != nil {
					return err
				}
				return tx.PutSetting(posture.SettingComplianceStale, "1")
			})
			if err != nil {
				t.Fatal(err)
			}
			var mu posture.LocalWriteLock
			feed := &changeLog{}
			svc := &compliance.Service{Store: e.store, Registry: e.svc.Registry, Now: e.clock.Now, WriteMu: &mu, Feed: feed,
				EvalJobs: compliance.EvalJobs{Queue: queued, Chunk: chunk}, Logger: slog.New(slog.DiscardHandler)}
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			e.svc = svc
			if queued {
				if len(e.states(a)) != 0 || !e.evaluating(a) {
					t.Fatal("Start evaluated a large assignment with a queue")
				}
				e.drain()
			}
			changes := feed.take()
			if len(changes) < len(want)/chunk {
				t.Errorf("%d changes for %d resources in chunks of %d", len(changes), len(want), chunk)
			}
			for _, c := range changes {
				if len(c.States) > chunk {
					t.Errorf("a change carries %d state rows; chunks are %d", len(c.States), chunk)
				}
			}
			if diff := cmp.Diff(want, e.states(a)); diff != "" {
				t.Errorf("re-evaluated states differ (-before +after):\n%s", diff)
			}
		})
	}
}

// TestRangeContinuesAsNewJob: a job out of time (RangeTime) commits the
// resources it evaluated and queues the rest of its range; the ranges still
// end with the states of the inline evaluation.
func TestRangeContinuesAsNewJob(t *testing.T) {
	const resources, chunk = 100, 24
	inline := newJobEnv(t, compliance.EvalJobs{}, resources)
	want := inline.states(inline.assign("bench"))

	e := newJobEnv(t, compliance.EvalJobs{Queue: true, Chunk: chunk, RangeTime: time.Nanosecond}, resources)
	a := e.assign("bench")
	e.drain()
	if diff := cmp.Diff(want, e.states(a)); diff != "" {
		t.Errorf("states differ (-inline +jobs):\n%s", diff)
	}
	// A job reads a page (a quarter of a chunk) before it looks at the
	// time: each range took about four jobs.
	kinds := e.jobs(a)
	if n := kinds[compliance.KindEvaluate+" "+posture.JobDone]; n < 3*len(want)/chunk {
		t.Errorf("jobs %v: %d evaluations for %d resources in ranges of %d; the ranges did not continue", kinds, n, len(want), chunk)
	}
	for _, c := range e.feed.take() {
		if len(c.States) > chunk/4 {
			t.Errorf("a change carries %d state rows; a job evaluates one page of %d", len(c.States), chunk/4)
		}
	}
}
