package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/policy"
)

// Evaluating a large scope (a management group over the whole estate, a
// subscription of 100,000 resources) in the transaction of the write that
// asks for it would hold every state row of the scope in one change and
// the database's write lock for minutes. With EvalJobs.Queue set, such an
// evaluation is a set of durable jobs instead:
//
//   - the write (an assignment, a definition it uses) commits with one
//     plan job, and returns;
//   - the plan job walks the scope's keys (keys only) and cuts them into
//     key ranges of Chunk resources, one evaluation job each; it hands the
//     rest of the scope to a next plan job after planChunks ranges, so
//     that neither it nor its transaction grows with the scope;
//   - each evaluation job evaluates the resources of its range in its own
//     transaction, deletes the assignment's states of resources in the
//     range it no longer covers, and publishes its change.
//
// The ranges tile the key space (the first starts at "", the last has no
// end), so every state of the assignment is in exactly one. Any replica's
// queue takes any job; a crash leaves a job to run again when its lease
// runs out, and evaluation is idempotent (states that did not change are
// not written). A job whose assignment was deleted, or replaced by a
// version with another ETag (which has its own plan), does nothing.
// Until the jobs end the assignment has states for part of its scope only:
// Azure Policy calls that "Not started" for the rest
// (https://learn.microsoft.com/azure/governance/policy/concepts/compliance-states#not-started),
// and Evaluating reports it.

// Kinds of the evaluation jobs.
const (
	KindEvaluatePlan = "compliance.evaluate.plan"
	KindEvaluate     = "compliance.evaluate"
)

// DefaultChunk is how many resources one evaluation job covers by
// default; a scope with at most this many is evaluated inline.
const DefaultChunk = 2000

// planChunks is how many ranges one plan job cuts before it hands on: a
// plan job reads at most planChunks*Chunk keys.
const planChunks = 50

// EvalJobs configures the evaluation of large scopes.
type EvalJobs struct {
	// Queue makes the evaluation of a scope with more than Chunk resources
	// queued jobs (run by a queue with Handlers): the write that needs it
	// returns once its plan is queued. Without it, a write evaluates such a
	// scope in its own transaction, and Start re-evaluates in chunks of
	// Chunk resources, one transaction each, before it returns.
	Queue bool
	// Chunk is the number of resources of one job or transaction (0:
	// DefaultChunk).
	Chunk int
	// RangeTime bounds the time an evaluation job spends on its range
	// before it commits what it evaluated and queues the rest as a new job
	// (0: half of the time its lease leaves once it holds the write lock).
	// A range thus progresses on a loaded machine or behind a long-held
	// lock, where evaluating it whole would outlast the lease.
	RangeTime time.Duration
}

func (s *Service) chunk() int {
	if s.EvalJobs.Chunk > 0 {
		return s.EvalJobs.Chunk
	}
	return DefaultChunk
}

// page is how many resources an evaluation reads at a time: the points
// where a job may stop and continue later.
func (s *Service) page() int {
	return max(1, min(500, s.chunk()/4))
}

// evalJob is the payload of both kinds of job.
type evalJob struct {
	Assignment string `json:"assignment"` // key
	ETag       string `json:"etag"`       // the version the plan is for
	Plan       string `json:"plan"`       // one id per plan, for job keys
	Step       int    `json:"step"`       // plan jobs: how many came before
	After      string `json:"after,omitempty"`
	// Through ends an evaluation job's range (inclusive); "" for none.
	Through string `json:"through,omitempty"`
}

// Handlers returns the queue handlers of the evaluation jobs, by kind.
func (s *Service) Handlers() map[string]func(context.Context, *posture.Job) error {
	return map[string]func(context.Context, *posture.Job) error{
		KindEvaluatePlan: s.runPlan,
		KindEvaluate:     s.runChunk,
	}
}

// newEvaluation returns an evaluation inside tx against the hierarchy
// hier, writing to c.
func (s *Service) newEvaluation(ctx context.Context, tx posture.Tx, hier *hierarchy, l *lookup, c *posture.Change) *evaluation {
	now := s.now()
	return &evaluation{ctx: ctx, tx: tx, now: now, hier: hier, lookup: l, opts: policy.EvalOptions{Now: now, Reasons: policy.ReasonsNone, ReportDisabled: true}, change: c,
		stamp: &stamper{ix: s.exemptions, hier: hier}}
}

// queueIfLarge queues the plan of a's evaluation when jobs are on and its
// scope holds more than Chunk resources. It reports whether it did.
func (s *Service) queueIfLarge(tx posture.Tx, a *assignment, hier *hierarchy) (bool, error) {
	if !s.EvalJobs.Queue {
		return false, nil
	}
	n, limit := 0, s.chunk()
	for _, root := range hier.scopeRoots(a.scope) {
		m, err := tx.CountResources(posture.ResourceFilter{Under: root})
		if err != nil {
			return false, err
		}
		if n += m; n > limit {
			break
		}
	}
	if n <= limit {
		return false, nil
	}
	doc, err := tx.Resource(a.key)
	if err != nil {
		return false, err
	}
	j := evalJob{Assignment: a.key, ETag: doc.ETag, Plan: uuid.NewString()}
	_, err = tx.EnqueueJobs([]*posture.Job{j.job(KindEvaluatePlan, "plan/0")})
	return err == nil, err
}

func (j evalJob) job(kind, suffix string) *posture.Job {
	b, _ := json.Marshal(j)
	return &posture.Job{Key: "compliance/evaluate/" + j.Plan + "/" + suffix, Kind: kind, Ref: j.Assignment, Payload: b}
}

// runPlan is the plan job: it cuts the next planChunks ranges of the scope
// and queues a job for each, and a plan job for the rest, if any.
func (s *Service) runPlan(ctx context.Context, job *posture.Job) error {
	var j evalJob
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidJob", "evaluation plan payload: %v", err)
	}
	_, hier, _, _ := s.snapshot()
	size := s.chunk()
	var bounds []string // the last key of each full range
	n := 0              // keys after the last bound
	exhausted, current := false, false
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		a, ok, err := s.jobAssignment(tx, j)
		if err != nil || !ok {
			return err
		}
		current = true
		w := newScopeWalk(tx, a, hier, true)
		after := j.After
		for {
			rs, err := w.next(after, 1000)
			if err != nil {
				return err
			}
			for i, r := range rs {
				if n++; n < size {
					continue
				}
				bounds, n = append(bounds, r.Key), 0
				if len(bounds) == planChunks {
					// Done here, unless r is the scope's last key.
					exhausted = i == len(rs)-1 && len(rs) < 1000
					return nil
				}
			}
			if len(rs) < 1000 {
				exhausted = true
				return nil
			}
			after = rs[len(rs)-1].Key
		}
	})
	if err != nil || !current {
		return err
	}
	chunk := func(i int, after, through string) *posture.Job {
		c := j
		c.After, c.Through = after, through
		return c.job(KindEvaluate, "chunk/"+strconv.Itoa(j.Step)+"/"+strconv.Itoa(i))
	}
	var jobs []*posture.Job
	from := j.After
	for i, b := range bounds {
		through := b
		if exhausted && n == 0 && i == len(bounds)-1 {
			through = "" // the last range has no end
		}
		jobs = append(jobs, chunk(i, from, through))
		from = b
	}
	switch {
	case exhausted && (n > 0 || len(bounds) == 0):
		// The keys after the last full range, and states of resources the
		// scope no longer holds, make the last range.
		jobs = append(jobs, chunk(len(bounds), from, ""))
	case !exhausted:
		next := j
		next.After, next.Step = from, j.Step+1
		jobs = append(jobs, next.job(KindEvaluatePlan, "plan/"+strconv.Itoa(next.Step)))
	}
	return s.Store.Write(ctx, func(tx posture.Tx) error {
		_, err := tx.EnqueueJobs(jobs)
		return err
	})
}

// jobAssignment compiles the assignment a job is about, as stored; ok is
// false when it was deleted or replaced since the job was planned.
func (s *Service) jobAssignment(tx posture.Tx, j evalJob) (*assignment, bool, error) {
	doc, err := tx.Resource(j.Assignment)
	if posture.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if doc.ETag != j.ETag {
		return nil, false, nil
	}
	a, err := s.compile(doc)
	if err != nil {
		// It compiled when it was written; a definition it uses changed
		// since, and that write re-planned it.
		return nil, false, nil
	}
	return a, true, nil
}

// runChunk is the evaluation job of one range.
func (s *Service) runChunk(ctx context.Context, job *posture.Job) error {
	var j evalJob
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidJob", "evaluation payload: %v", err)
	}
	if err := s.WriteMu.Lock(ctx); err != nil {
		return err
	}
	defer s.WriteMu.Unlock()
	_, hier, related, kept := s.snapshot()
	start := time.Now()
	var until time.Time
	switch d, ok := ctx.Deadline(); {
	case s.EvalJobs.RangeTime > 0:
		until = start.Add(s.EvalJobs.RangeTime)
	case ok:
		until = start.Add(time.Until(d) / 2)
	}
	c := &posture.Change{}
	evaluated := false
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		a, ok, err := s.jobAssignment(tx, j)
		if err != nil || !ok {
			return err
		}
		evaluated = true
		e := s.newEvaluation(ctx, tx, hier, &lookup{tx: tx, base: related, kept: kept}, c)
		last, more, err := s.evaluateRange(e, a, j.After, j.Through, 0, until)
		if err != nil || !more {
			return err
		}
		// Out of time: the rest of the range is a job of its own, queued
		// with what this one evaluated.
		rest := j
		rest.After = last
		base, _, _ := strings.Cut(job.Key, "/from/")
		sum := sha256.Sum256([]byte(last))
		next := rest.job(KindEvaluate, "")
		next.Key = base + "/from/" + hex.EncodeToString(sum[:8])
		_, err = tx.EnqueueJobs([]*posture.Job{next})
		return err
	})
	if err != nil {
		return fmt.Errorf("evaluating %s after %q: %w", j.Assignment, j.After, err)
	}
	s.publish(c)
	if evaluated {
		s.log().Debug("assignment range evaluated", "assignment", j.Assignment, "after", j.After,
			"states", len(c.States), "duration_ms", time.Since(start).Milliseconds())
	}
	return nil
}

// Evaluating reports whether an evaluation of the assignment is queued or
// running: until it ends, resources of its scope may have no states of it
// yet (Azure's "Not started").
func (s *Service) Evaluating(ctx context.Context, assignmentID string) (bool, error) {
	id, err := armid.Parse(assignmentID)
	if err != nil || !strings.EqualFold(id.Type(), AssignmentType) {
		return false, posture.Errorf(posture.EINVALID, "InvalidPolicyAssignmentId", "'%s' is not a policy assignment id.", assignmentID)
	}
	key := id.Key()
	busy := false
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		for _, state := range []string{posture.JobPending, posture.JobRunning} {
			js, err := tx.Jobs(posture.JobFilter{State: state, Ref: key, Limit: 1})
			if err != nil {
				return err
			}
			if len(js) > 0 {
				busy = true
				return nil
			}
		}
		return nil
	})
	return busy, err
}

// evaluateRange evaluates the resources a covers whose keys lie in
// (after, through] (through "": no end), at most max of them (0: no limit),
// reading no further page once until has passed (zero: no limit), and
// deletes a's states of resources in that range it no longer covers. It
// returns the last key it evaluated and whether it stopped early (at max
// or until: then the range it handled ends at that key).
func (s *Service) evaluateRange(e *evaluation, a *assignment, after, through string, max int, until time.Time) (last string, more bool, err error) {
	w := newScopeWalk(e.tx, a, e.hier, false)
	seen := map[string]bool{}
	last = after
	n := 0
	for {
		want := s.page()
		if max > 0 {
			want = min(want, max-n)
		}
		if want == 0 || n > 0 && !until.IsZero() && time.Now().After(until) {
			more = true
			break
		}
		rs, err := w.next(last, want)
		if err != nil {
			return "", false, err
		}
		full := len(rs) == want
		if through != "" {
			if i := slices.IndexFunc(rs, func(r *posture.Resource) bool { return r.Key > through }); i >= 0 {
				rs, full = rs[:i], false
			}
		}
		for _, r := range rs {
			seen[r.Key] = true
		}
		if err := e.run(rs, []*assignment{a}); err != nil {
			return "", false, err
		}
		if len(rs) > 0 {
			last = rs[len(rs)-1].Key
			n += len(rs)
		}
		if !full {
			break
		}
	}
	end := through
	if more {
		end = last
	}
	return last, more, s.dropUncovered(e, a, after, end, seen)
}

// dropUncovered deletes a's states of resources in (after, end] (end "":
// no end) that are not in seen.
func (s *Service) dropUncovered(e *evaluation, a *assignment, after, end string, seen map[string]bool) error {
	f := posture.PolicyStateFilter{AssignmentKey: a.key, Limit: 1000}
	if after != "" {
		f.After = after + "\x00" + a.key
	}
	var gone []string
	for {
		rows, err := e.tx.PolicyStates(f)
		if err != nil {
			return err
		}
		stop := len(rows) < f.Limit
		for _, o := range rows {
			if end != "" && o.ResourceKey > end {
				stop = true
				break
			}
			if !seen[o.ResourceKey] {
				gone = append(gone, o.ResourceKey)
				e.removed(o, nil)
			}
		}
		if stop {
			break
		}
		last := rows[len(rows)-1]
		f.After = last.ResourceKey + "\x00" + last.AssignmentKey
	}
	if len(gone) == 0 {
		return nil
	}
	return e.tx.DeleteAssignmentStatesOf(a.key, gone)
}

// reevaluateChunked re-evaluates an assignment a chunk of resources at a
// time, one transaction and one published change each.
func (s *Service) reevaluateChunked(ctx context.Context, a *assignment, hier *hierarchy, related *relatedIndex, kept map[string]nameSet) error {
	after := ""
	for {
		c := &posture.Change{}
		var last string
		var more bool
		err := s.Store.Write(ctx, func(tx posture.Tx) error {
			e := s.newEvaluation(ctx, tx, hier, &lookup{tx: tx, base: related, kept: kept}, c)
			var err error
			last, more, err = s.evaluateRange(e, a, after, "", s.chunk(), time.Time{})
			return err
		})
		if err != nil {
			return err
		}
		s.publish(c)
		if !more {
			return nil
		}
		after = last
	}
}

// scopeWalk reads, in key order, the resources an assignment covers: each
// root of its scope (sorted; they do not nest) and everything under it.
type scopeWalk struct {
	tx       posture.Tx
	roots    []string
	types    []string
	keysOnly bool
}

func newScopeWalk(tx posture.Tx, a *assignment, hier *hierarchy, keysOnly bool) *scopeWalk {
	roots := slices.Clone(hier.scopeRoots(a.scope))
	slices.Sort(roots)
	// A filter on many types makes the database sort what the key index
	// gives in order; for an assignment that evaluates most of the estate
	// (the benchmark), scanning in key order and skipping the other types
	// here is faster (measured: 8.5 s against 10.5 s for 100,000 resources).
	types := evaluatedTypes(a)
	if len(types) > 5 {
		types = nil
	}
	return &scopeWalk{tx: tx, roots: roots, types: types, keysOnly: keysOnly}
}

// next returns up to limit resources with keys after after ("": from the
// start).
func (w *scopeWalk) next(after string, limit int) ([]*posture.Resource, error) {
	var out []*posture.Resource
	for _, root := range w.roots {
		if len(out) >= limit {
			break
		}
		if after != "" && after >= root+"0" {
			continue // past the root's subtree ('0' follows '/')
		}
		if after < root {
			r, err := w.tx.Resource(root)
			switch {
			case err == nil:
				out = append(out, r)
			case !posture.IsNotFound(err):
				return nil, err
			}
		}
		if len(out) >= limit {
			break
		}
		rs, err := w.tx.ListResources(posture.ResourceFilter{Under: root, Types: w.types, After: after, Limit: limit - len(out), KeysOnly: w.keysOnly})
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
