package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// exemptionPool is the exemptions the generator works with: a fixed set
// of names, each on one non-compliant (resource, assignment, reference)
// of the estate, so that every PUT and DELETE moves real policy states,
// assessments and scores. The pool knows which exist; an operation takes
// a name no other request is using, so a GET is never raced by a DELETE
// of the same exemption and every unexpected status is the server's.
type exemptionPool struct {
	prefix string
	size   int

	mu      sync.Mutex
	rng     *rand.Rand
	targets []loadTarget
	slots   []exemptionSlot
}

type loadTarget struct {
	Resource   string `json:"r"`
	Assignment string `json:"a"`
	Reference  string `json:"ref"`
}

type exemptionSlot struct {
	exists, busy bool
	revision     int // how many times the generator has written it
}

const loadExemptionAPIVersion = "2022-07-01-preview"

// targetsQuery finds what the pool exempts: non-compliant states of
// resources (not of subscriptions) under an initiative's member, in a
// stable order.
const targetsQuery = `policyresources
| where type == 'microsoft.policyinsights/policystates' and properties.complianceState == 'NonCompliant'
| extend r = tostring(properties.resourceId), a = tostring(properties.policyAssignmentId), ref = tostring(properties.policyDefinitionReferenceId)
| where r contains '/providers/' and isnotempty(ref)
| project r, a, ref
| order by r asc, ref asc
| take 1000`

// exemptionTargets reads the targets through Resource Graph. A server
// that has just started may answer 503 while it builds its tables: the
// query is tried again for up to two minutes.
func (c *loadClient) exemptionTargets(ctx context.Context) ([]loadTarget, error) {
	body, _ := json.Marshal(map[string]any{"query": targetsQuery, "options": map[string]any{"$top": 1000}})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		targets, status, err := c.queryTargets(ctx, body)
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return targets, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *loadClient) queryTargets(ctx context.Context, body []byte) ([]loadTarget, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.run.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.api.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var page struct {
		Data  []loadTarget
		Error *struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("finding non-compliant resources to exempt: HTTP %d: %w", resp.StatusCode, err)
	}
	if page.Error != nil || resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("finding non-compliant resources to exempt: HTTP %d %+v", resp.StatusCode, page.Error)
	}
	if len(page.Data) == 0 {
		return nil, resp.StatusCode, errors.New("the estate has no non-compliant resource to exempt (start the server with --demo, or import an estate)")
	}
	return page.Data, resp.StatusCode, nil
}

func (p *exemptionPool) init(targets []loadTarget, seed uint64) {
	p.targets = targets
	p.slots = make([]exemptionSlot, p.size)
	p.rng = rand.New(rand.NewPCG(seed, 0x5eed))
}

func (p *exemptionPool) name(i int) string { return fmt.Sprintf("%s%05d", p.prefix, i) }

func (p *exemptionPool) path(i int) string {
	return p.targets[i%len(p.targets)].Resource + "/providers/Microsoft.Authorization/policyExemptions/" + p.name(i) + "?api-version=" + loadExemptionAPIVersion
}

// take reserves a name that exists (want true), does not, or either (the
// PUT), or returns -1 when there is none free.
func (p *exemptionPool) take(exists *bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fits := func(i int) bool {
		s := p.slots[i]
		return !s.busy && (exists == nil || s.exists == *exists)
	}
	// Random probes find one quickly while few names are busy; the scan
	// makes the answer certain.
	for range 32 {
		if i := p.rng.IntN(len(p.slots)); fits(i) {
			p.slots[i].busy = true
			return i
		}
	}
	start := p.rng.IntN(len(p.slots))
	for k := range p.slots {
		if i := (start + k) % len(p.slots); fits(i) {
			p.slots[i].busy = true
			return i
		}
	}
	return -1
}

// release frees a name with what the server said about it.
func (p *exemptionPool) release(i int, exists bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slots[i].busy = false
	p.slots[i].exists = exists
}

// each runs f for every name, n at a time, and returns the first error.
func (p *exemptionPool) each(ctx context.Context, n int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		next = make(chan int)
		mu   sync.Mutex
		errs []error
	)
	for range n {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range p.slots {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

// exemptionBody is a realistic exemption: a Waiver for 30 days (within
// the default governance rules' 90 days for High severity) or a
// Mitigated one, with a description and the metadata teams use (ticket,
// owner); each revision changes the description and the ticket.
func (p *exemptionPool) exemptionBody(i int, now time.Time) []byte {
	p.mu.Lock()
	p.slots[i].revision++
	rev := p.slots[i].revision
	p.mu.Unlock()
	t := p.targets[i%len(p.targets)]
	props := map[string]any{
		"policyAssignmentId":           t.Assignment,
		"policyDefinitionReferenceIds": []string{t.Reference},
		"displayName":                  fmt.Sprintf("Load test exemption %s", p.name(i)),
		"metadata":                     map[string]string{"ticketRef": fmt.Sprintf("CHG-%d", 10000+i*10+rev%10), "owner": "load@posture.test", "requestedBy": "posture load"},
	}
	if i%2 == 0 {
		props["exemptionCategory"] = "Waiver"
		props["expiresOn"] = now.Add(30 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
		props["description"] = fmt.Sprintf("Risk accepted until the vendor's fix ships (revision %d).", rev)
	} else {
		props["exemptionCategory"] = "Mitigated"
		props["description"] = fmt.Sprintf("Handled by the web application firewall in front of it (revision %d).", rev)
	}
	b, _ := json.Marshal(map[string]any{"properties": props})
	return b
}

func (c *loadClient) putSlot(ctx context.Context, i int) loadResult {
	return c.do(ctx, c.api, http.MethodPut, c.run.pool.path(i), c.run.pool.exemptionBody(i, time.Now()), isOK(200, 201))
}

func (c *loadClient) deleteSlot(ctx context.Context, i int) loadResult {
	return c.do(ctx, c.api, http.MethodDelete, c.run.pool.path(i), nil, isOK(200, 204))
}

var yes = true

// exemptionGet reads an exemption that exists; with none free it writes
// one instead.
func (c *loadClient) exemptionGet(ctx context.Context) loadResult {
	p := c.run.pool
	i := p.take(&yes)
	if i < 0 {
		return c.exemptionPutAs(ctx, "exemption-put")
	}
	res := c.do(ctx, c.api, http.MethodGet, p.path(i), nil, isOK(200))
	p.release(i, true) // a failed read does not change what exists
	return res
}

// exemptionPut creates or replaces one.
func (c *loadClient) exemptionPut(ctx context.Context) loadResult { return c.exemptionPutAs(ctx, "") }

func (c *loadClient) exemptionPutAs(ctx context.Context, op string) loadResult {
	p := c.run.pool
	i := p.take(nil)
	if i < 0 {
		return loadResult{op: op, err: errors.New("every exemption name is in use: raise --exemptions")}
	}
	was := p.slots[i].exists
	res := c.putSlot(ctx, i)
	p.release(i, res.err == nil && (res.status == 200 || res.status == 201) || was)
	res.op = op
	return res
}

// exemptionDelete deletes one that exists (200; a 204 would mean the
// server lost it); with none free it writes one instead.
func (c *loadClient) exemptionDelete(ctx context.Context) loadResult {
	p := c.run.pool
	i := p.take(&yes)
	if i < 0 {
		return c.exemptionPutAs(ctx, "exemption-put")
	}
	res := c.do(ctx, c.api, http.MethodDelete, p.path(i), nil, isOK(200))
	p.release(i, !(res.err == nil && (res.status == 200 || res.status == 204)))
	return res
}

// exemptionList lists the exemptions at and under a subscription of the
// estate, the first page (the portal's and the CLI's list).
func (c *loadClient) exemptionList(ctx context.Context) loadResult {
	p := c.run.pool
	p.mu.Lock()
	t := p.targets[p.rng.IntN(len(p.targets))]
	p.mu.Unlock()
	sub := t.Resource
	if k := indexNth(sub, '/', 3); k > 0 {
		sub = sub[:k]
	}
	return c.do(ctx, c.api, http.MethodGet, sub+"/providers/Microsoft.Authorization/policyExemptions?api-version="+loadExemptionAPIVersion, nil, isOK(200))
}

// indexNth is the index of the n-th sep in s (1-based), or -1.
func indexNth(s string, sep byte, n int) int {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			if n--; n == 0 {
				return i
			}
		}
	}
	return -1
}
