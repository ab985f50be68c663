package defender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// env is an estate with policy evaluation and Defender's view over a real
// SQLite store.
type env struct {
	t      *testing.T
	dir    string
	store  posture.Store
	policy *compliance.Service
	estate *estate.Service
	sec    *defender.Service
	feed   *recorder
	now    time.Time
	mu     sync.Mutex
	// mitigatedAsHealthy configures the next open.
	mitigatedAsHealthy bool
}

// recorder is the feed after Defender's: it keeps what Defender derived.
type recorder struct {
	mu      sync.Mutex
	derived map[string][]byte
}

func (r *recorder) Publish(c *posture.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range c.Deleted {
		for k := range r.derived {
			if k == d || strings.HasPrefix(k, d+"/") {
				delete(r.derived, k)
			}
		}
	}
	for _, id := range c.DerivedRemoved {
		delete(r.derived, strings.ToLower(id))
	}
	for _, d := range c.Derived {
		r.derived[strings.ToLower(d.ID)] = d.Body
	}
}

const (
	subID    = "00000000-0000-0000-0000-00000000000a"
	sub      = "/subscriptions/" + subID
	rg       = sub + "/resourceGroups/rg1"
	storage  = rg + "/providers/Microsoft.Storage/storageAccounts/st1"
	storage2 = rg + "/providers/Microsoft.Storage/storageAccounts/st2"
	mcsbID   = sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
)

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	e.open()
	return e
}

// open (re)opens the services over the store directory.
func (e *env) open() {
	t := e.t
	store, err := sqlite.Open(context.Background(), e.dir, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := defender.NewCatalog(reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu posture.LocalWriteLock
	e.store = store
	e.feed = &recorder{derived: map[string][]byte{}}
	e.sec = &defender.Service{Store: store, Catalog: cat, Now: e.clock, PortalURL: "https://posture.example", MitigatedAsHealthy: e.mitigatedAsHealthy}
	feeds := posture.Feeds{e.sec, e.feed}
	e.policy = &compliance.Service{Store: store, Registry: reg, Now: e.clock, WriteMu: &mu, DefaultAssignment: true, Feed: feeds}
	e.estate = &estate.Service{Store: store, Now: e.clock, Observer: e.policy, WriteMu: &mu, Feed: feeds}
	e.sec.Resources, e.sec.Initiative = e.estate, e.policy.InitiativeOf
	ctx := context.Background()
	if _, err := e.estate.EnsureTenant(ctx, "tenant-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.policy.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.sec.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

func (e *env) put(doc string, args ...any) {
	e.t.Helper()
	r, err := armdoc.Normalize([]byte(fmt.Sprintf(doc, args...)))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.estate.PutResource(context.Background(), r, posture.PutImport, ""); err != nil {
		e.t.Fatalf("put %s: %v", r.ID, err)
	}
}

func (e *env) putStorage(id string, public bool) {
	e.t.Helper()
	e.put(`{"id":%q,"type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
		"properties":{"allowBlobPublicAccess":%v,"supportsHttpsTrafficOnly":true,"minimumTlsVersion":"TLS1_2"}}`, id, public)
}

// assessment reads one assessment through the service.
type assessment struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		ResourceDetails map[string]string `json:"resourceDetails"`
		DisplayName     string            `json:"displayName"`
		Status          struct {
			Code, Cause, Description              string
			FirstEvaluationDate, StatusChangeDate time.Time
		} `json:"status"`
		Links    *struct{ AzurePortalURI string } `json:"links"`
		Metadata *struct{ Severity, PolicyDefinitionID string }
	} `json:"properties"`
}

func (e *env) assessment(resourceID, key string, expand posture.AssessmentExpand) (*assessment, error) {
	r, err := e.sec.Assessment(context.Background(), resourceID+"/providers/Microsoft.Security/assessments/"+key, expand)
	if err != nil {
		return nil, err
	}
	var a assessment
	if err := json.Unmarshal(r.Body, &a); err != nil {
		e.t.Fatal(err)
	}
	return &a, nil
}

func (e *env) rec(ref string) *defender.Recommendation {
	r, ok := e.sec.Catalog.ByReference(ref)
	if !ok {
		e.t.Fatalf("no recommendation %s", ref)
	}
	return r
}

// control reads a control's counters and score through the service.
type control struct {
	Name       string `json:"name"`
	Properties struct {
		DisplayName string
		Score       struct {
			Max                 int
			Current, Percentage float64
		}
		HealthyResourceCount       int
		UnhealthyResourceCount     int
		NotApplicableResourceCount int
		Weight                     int
	} `json:"properties"`
}

func (e *env) controls(scope string) map[string]control {
	e.t.Helper()
	rs, err := e.sec.SecureScoreControls(context.Background(), scope, false)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]control{}
	for _, r := range rs {
		var c control
		if err := json.Unmarshal(r.Body, &c); err != nil {
			e.t.Fatal(err)
		}
		out[c.Properties.DisplayName] = c
	}
	return out
}

type score struct {
	Properties struct {
		Score struct {
			Max                 int
			Current, Percentage float64
		}
		Weight int
	}
}

func (e *env) score(scope string) score {
	e.t.Helper()
	rs, err := e.sec.SecureScores(context.Background(), scope)
	if err != nil {
		e.t.Fatal(err)
	}
	var s score
	if err := json.Unmarshal(rs[0].Body, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}
