package sqlstore

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
)

const jobColumns = `id, key, kind, ref, payload, state, attempts, max_attempts, run_at, locked_until, last_error, trace_parent, created_at, updated_at`

// enqueueChunk bounds the rows of one INSERT: 10 parameters a row stay far
// below SQLite's and PostgreSQL's limits.
const enqueueChunk = 500

func scanJob(sc scanner) (*posture.Job, error) {
	var j posture.Job
	var payload sql.NullString
	var runAt, locked, created, updated int64
	if err := sc.Scan(&j.ID, &j.Key, &j.Kind, &j.Ref, &payload, &j.State, &j.Attempts, &j.MaxAttempts,
		&runAt, &locked, &j.LastError, &j.TraceParent, &created, &updated); err != nil {
		return nil, err
	}
	if payload.Valid {
		j.Payload = json.RawMessage(payload.String)
	}
	j.RunAt, j.LockedUntil = fromMicros(runAt), fromMicros(locked)
	j.CreatedAt, j.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &j, nil
}

// stamp is t as the store keeps it: UTC, whole microseconds.
func stamp(t time.Time) time.Time { return fromMicros(micros(t)) }

// EnqueueJobs implements posture.Tx. Jobs go in by multi-row INSERTs that
// skip taken keys (ON CONFLICT DO NOTHING) and return the rows they added;
// a key given twice in one call is added once, for its first job. RunAt and
// CreatedAt default to the store's clock, TraceParent to the trace of the
// transaction's context (SetTraceParent); the added jobs get their ID and
// the fields as stored.
func (t *Tx) EnqueueJobs(jobs []*posture.Job) (int, error) {
	if k := t.noted(); k != nil && len(jobs) > 0 {
		k.Jobs = true
	}
	for _, j := range jobs {
		if j.Key == "" || j.Kind == "" {
			return 0, posture.Internal(fmt.Errorf("sqlstore: job %q of kind %q: key and kind are required", j.Key, j.Kind))
		}
		if j.Payload != nil && !json.Valid(j.Payload) {
			return 0, posture.Internal(fmt.Errorf("sqlstore: job %q: payload is not JSON", j.Key))
		}
	}
	now := stamp(t.s.now())
	orNow := func(v time.Time) time.Time {
		if v.IsZero() {
			return now
		}
		return stamp(v)
	}
	parent := ""
	if t.s.traceParent != nil {
		parent = t.s.traceParent(t.ctx)
	}
	added := 0
	for start := 0; start < len(jobs); start += enqueueChunk {
		chunk := jobs[start:min(start+enqueueChunk, len(jobs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO jobs (key, kind, ref, payload, state, attempts, max_attempts, run_at, locked_until, last_error, trace_parent, created_at, updated_at) VALUES `)
		args := make([]any, 0, len(chunk)*10)
		for i, j := range chunk {
			if i > 0 {
				b.WriteString(`, `)
			}
			if j.TraceParent == "" {
				j.TraceParent = parent
			}
			b.WriteString(`(?, ?, ?, ?, ?, 0, ?, ?, 0, '', ?, ?, ?)`)
			args = append(args, j.Key, j.Kind, j.Ref, nullText(j.Payload), posture.JobPending, j.MaxAttempts,
				micros(orNow(j.RunAt)), j.TraceParent, micros(orNow(j.CreatedAt)), micros(now))
		}
		b.WriteString(` ON CONFLICT (key) DO NOTHING RETURNING id, key`)
		rows, err := queryAll(t, func(sc scanner) (idKey, error) {
			var r idKey
			return r, sc.Scan(&r.id, &r.key)
		}, b.String(), args...)
		if err != nil {
			return added, err
		}
		ids := make(map[string]int64, len(rows))
		for _, r := range rows {
			ids[r.key] = r.id
		}
		for _, j := range chunk {
			id, ok := ids[j.Key]
			if !ok {
				continue
			}
			delete(ids, j.Key) // a later job with the same key was skipped
			j.ID, j.State, j.Attempts, j.LockedUntil, j.LastError = id, posture.JobPending, 0, time.Time{}, ""
			j.RunAt, j.CreatedAt, j.UpdatedAt = orNow(j.RunAt), orNow(j.CreatedAt), now
			added++
		}
	}
	return added, nil
}

type idKey struct {
	id  int64
	key string
}

// ClaimJobs implements posture.Tx. Jobs whose lease ran out go first (a
// worker died holding them), then Pending ones in (RunAt, ID) order; each
// pick walks the jobs_due index and stops at limit, however long the
// backlog. On PostgreSQL a pick locks its rows and skips rows that other
// claimers hold (FOR UPDATE SKIP LOCKED), and a row another claimer changed
// meanwhile is checked against the conditions again, so two replicas never
// get the same job; SQLite has one writer at a time. The jobs come back in
// (RunAt, ID) order.
func (t *Tx) ClaimJobs(now time.Time, lease time.Duration, limit int) ([]*posture.Job, error) {
	now = stamp(now)
	until := stamp(now.Add(lease))
	expired, err := t.claim(`state = '`+posture.JobRunning+`' AND locked_until <= ?`, now, until, limit)
	if err != nil {
		return nil, err
	}
	pending, err := t.claim(`state = '`+posture.JobPending+`' AND run_at <= ?`, now, until, limit-len(expired))
	if err != nil {
		return nil, err
	}
	js := append(expired, pending...)
	slices.SortFunc(js, func(a, b *posture.Job) int {
		return cmp.Or(a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	return js, nil
}

// claim makes up to limit jobs that match cond (with one placeholder, for
// now) Running until until.
func (t *Tx) claim(cond string, now, until time.Time, limit int) ([]*posture.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ``
	if t.s.d.Name == "postgres" {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	return queryAll(t, scanJob, `WITH due AS MATERIALIZED (
		SELECT id FROM jobs WHERE `+cond+` ORDER BY run_at, id LIMIT ?`+lock+`)
		UPDATE jobs SET state = '`+posture.JobRunning+`', attempts = attempts + 1, locked_until = ?, updated_at = ?
		WHERE id IN (SELECT id FROM due)
		RETURNING `+jobColumns,
		micros(now), limit, micros(until), micros(now))
}

// UpdateJob implements posture.Tx. Besides the fields the contract names it
// stores Attempts, so that a dead job sent back to the queue starts over;
// the queue hands back the value ClaimJobs gave otherwise.
func (t *Tx) UpdateJob(j *posture.Job) error {
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = t.s.now()
	}
	j.RunAt, j.LockedUntil, j.UpdatedAt = stamp(j.RunAt), stamp(j.LockedUntil), stamp(j.UpdatedAt)
	r, err := t.exec(`UPDATE jobs SET state = ?, attempts = ?, run_at = ?, locked_until = ?, last_error = ?, updated_at = ? WHERE id = ?`,
		j.State, j.Attempts, micros(j.RunAt), micros(j.LockedUntil), j.LastError, micros(j.UpdatedAt), j.ID)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return jobNotFound(j.ID)
	}
	return nil
}

func jobNotFound(id int64) error {
	return notFound("JobNotFound", "Job %d does not exist.", id)
}

// Job implements posture.Tx.
func (t *Tx) Job(id int64) (*posture.Job, error) {
	j, err := scanJob(t.queryRow(`SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobNotFound(id)
	}
	return j, t.s.wrap(err)
}

// Jobs implements posture.Tx.
func (t *Tx) Jobs(f posture.JobFilter) ([]*posture.Job, error) {
	conds := []string{`id > ?`}
	args := []any{f.After}
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.State != "" {
		add(`state = ?`, f.State)
	}
	if f.Kind != "" {
		add(`kind = ?`, f.Kind)
	}
	if f.Ref != "" {
		add(`ref = ?`, f.Ref)
	}
	q := `SELECT ` + jobColumns + ` FROM jobs WHERE ` + strings.Join(conds, ` AND `) + ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return queryAll(t, scanJob, q, args...)
}

// CountJobs implements posture.Tx. Every state is in the map, 0 when no job
// has it.
func (t *Tx) CountJobs() (posture.JobCounts, error) {
	type stateCount struct {
		state string
		n     int
	}
	rows, err := queryAll(t, func(sc scanner) (stateCount, error) {
		var c stateCount
		return c, sc.Scan(&c.state, &c.n)
	}, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, err
	}
	counts := posture.JobCounts{posture.JobPending: 0, posture.JobRunning: 0, posture.JobDone: 0, posture.JobDead: 0}
	for _, c := range rows {
		counts[c.state] = c.n
	}
	return counts, nil
}

// PruneJobs implements posture.Tx.
func (t *Tx) PruneJobs(before time.Time) (int, error) {
	r, err := t.exec(`DELETE FROM jobs WHERE state = ? AND updated_at < ?`, posture.JobDone, micros(before))
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
