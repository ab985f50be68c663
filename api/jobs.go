package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
)

// JobType is the ARM type of the durable queue's jobs.
const JobType = "Posture.Queue/jobs"

var jobVersions = apiVersions{"2026-11-01"}

func (s *Server) registerJobs() {
	if s.Jobs == nil {
		return
	}
	s.handle(JobType, &typeRoutes{
		versions: jobVersions,
		get:      getJob,
		list:     listJobs,
		actions:  map[string]handlerFunc{"retry": retryJob},
	})
}

// jobDoc is a job as the API shows it. The payload is left out: it holds
// the notice with its signed one-click links, which only recipients may
// see.
type jobDoc struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Properties jobProps `json:"properties"`
}

type jobProps struct {
	Key         string     `json:"key"`
	Kind        string     `json:"kind"`
	Ref         string     `json:"ref,omitempty"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	MaxAttempts int        `json:"maxAttempts,omitempty"`
	RunAt       time.Time  `json:"runAt"`
	LastError   string     `json:"lastError,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	LockedUntil *time.Time `json:"lockedUntil,omitempty"`
}

func jobOf(j *posture.Job) jobDoc {
	name := strconv.FormatInt(j.ID, 10)
	d := jobDoc{ID: "/providers/" + JobType + "/" + name, Name: name, Type: JobType, Properties: jobProps{
		Key: j.Key, Kind: j.Kind, Ref: j.Ref, State: j.State, Attempts: j.Attempts, MaxAttempts: j.MaxAttempts,
		RunAt: j.RunAt.UTC(), LastError: j.LastError, CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(),
	}}
	if j.State == posture.JobRunning && !j.LockedUntil.IsZero() {
		t := j.LockedUntil.UTC()
		d.Properties.LockedUntil = &t
	}
	return d
}

func jobID(c *call) (int64, error) {
	n, err := strconv.ParseInt(c.id.Name(), 10, 64)
	if err != nil || n <= 0 {
		return 0, posture.Errorf(posture.ENOTFOUND, "JobNotFound", "The job '%s' was not found.", clip(c.id.Name()))
	}
	return n, nil
}

func getJob(c *call) error {
	n, err := jobID(c)
	if err != nil {
		return err
	}
	js, err := c.s.Jobs(c.ctx, posture.JobFilter{After: n - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(js) == 0 || js[0].ID != n {
		return posture.Errorf(posture.ENOTFOUND, "JobNotFound", "The job '%d' was not found.", n)
	}
	return c.ok(http.StatusOK, mustJSON(jobOf(js[0])))
}

// listJobs lists jobs, filtered by $filter "state eq 'Dead'", "kind eq
// '…'" or "ref eq '{object id}'" (joined by "and").
func listJobs(c *call) error {
	top, err := c.top(1000)
	if err != nil {
		return err
	}
	f := posture.JobFilter{Limit: top}
	cur, err := c.cursor()
	if err != nil {
		return err
	}
	if cur != "" {
		if f.After, err = strconv.ParseInt(cur, 10, 64); err != nil {
			return posture.Errorf(posture.EINVALID, "InvalidSkipToken", "The $skipToken is not valid.")
		}
	}
	for _, part := range filterClauses(c.param("$filter")) {
		field, value, err := parseEq(part)
		if err != nil {
			return err
		}
		switch strings.ToLower(field) {
		case "state":
			f.State = value
		case "kind":
			f.Kind = value
		case "ref":
			f.Ref = strings.ToLower(value)
		default:
			return badFilter("the field '%s' is not supported; use state, kind and ref", clip(field))
		}
	}
	js, err := c.s.Jobs(c.ctx, f)
	if err != nil {
		return err
	}
	docs := make([]jobDoc, len(js))
	for i, j := range js {
		docs[i] = jobOf(j)
	}
	next := ""
	if len(js) == top && top > 0 {
		next = strconv.FormatInt(js[len(js)-1].ID, 10)
	}
	raw := make([]json.RawMessage, len(docs))
	for i := range docs {
		raw[i] = mustJSON(docs[i])
	}
	return c.list(raw, next)
}

func retryJob(c *call) error {
	n, err := jobID(c)
	if err != nil {
		return err
	}
	j, err := c.s.RetryJob(c.ctx, n)
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, mustJSON(jobOf(j)))
}
