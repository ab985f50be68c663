package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loadRun is what the steps of one `posture load` share: the servers, the
// operations and their state on the servers (the exemption pool, portal
// sessions).
type loadRun struct {
	urls   []*url.URL // base URLs, clients round-robin over them
	single *url.URL   // the single-request mode's URL
	method string
	token  string
	seed   uint64
	tr     *http.Transport
	ops    []*loadOp
	pool   *exemptionPool
	// clients are made once, in setup, and reused by every step: a portal
	// client's sign-in is not part of what is measured.
	clients []*loadClient
	// serverPIDs are server processes whose CPU each step reports.
	serverPIDs []int
}

// serverCPU is the CPU time the server processes have used so far.
func (r *loadRun) serverCPU() (time.Duration, error) {
	var total time.Duration
	for _, pid := range r.serverPIDs {
		d, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// loadOp is one kind of request.
type loadOp struct {
	name   string
	weight int
	run    func(*loadClient, context.Context) loadResult
	ok     func(status int) bool
}

// loadResult is one request's outcome. A request whose operation turned
// into another (a GET with no exemption to read becomes a PUT) says which.
type loadResult struct {
	op     string // when not the chosen operation
	status int    // 0: transport error
	err    error
	body   []byte // the start of an unexpected answer, for the report
}

func isOK(codes ...int) func(int) bool {
	return func(s int) bool { return slices.Contains(codes, s) }
}

// The operations. Resource Graph queries are the portal's sample queries
// (web/query.go): the seed article's query of exempted assessments, the
// secure score per subscription, unhealthy assessments by severity and the
// exemptions expiring within 30 days: a workbook's tiles.
var (
	loadOps = map[string]*loadOp{
		"exemption-get":        {run: (*loadClient).exemptionGet, ok: isOK(200)},
		"exemption-put":        {run: (*loadClient).exemptionPut, ok: isOK(200, 201)},
		"exemption-delete":     {run: (*loadClient).exemptionDelete, ok: isOK(200)},
		"exemption-list":       {run: (*loadClient).exemptionList, ok: isOK(200)},
		"kql-exempt":           {run: kqlOp(samples0), ok: isOK(200)},
		"kql-score":            {run: kqlOp(samples1), ok: isOK(200)},
		"kql-severity":         {run: kqlOp(samples2), ok: isOK(200)},
		"kql-expiring":         {run: kqlOp(samples3), ok: isOK(200)},
		"page-overview":        {run: pageOp("/"), ok: isOK(200)},
		"page-recommendations": {run: pageOp("/recommendations"), ok: isOK(200)},
		"page-exemptions":      {run: pageOp("/exemptions"), ok: isOK(200)},
	}
	// loadGroups weight their members: exemption traffic is 70% reads,
	// 20% creates or replaces, 10% deletes (docs/load.md says why).
	loadGroups = map[string][]struct {
		name   string
		weight int
	}{
		"exemptions": {{"exemption-get", 70}, {"exemption-put", 20}, {"exemption-delete", 10}},
		"kql":        {{"kql-exempt", 1}, {"kql-score", 1}, {"kql-severity", 1}, {"kql-expiring", 1}},
		"pages":      {{"page-overview", 1}, {"page-recommendations", 1}, {"page-exemptions", 1}},
	}
	loadProfiles = map[string]string{
		"exemptions": "exemptions=100",
		"kql":        "kql=100",
		"portal":     "pages=100",
		"all":        "exemptions=70,kql=15,pages=15",
	}
)

const (
	samples0 = `securityresources
| where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt'
| extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName
| project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason`
	samples1 = `securityresources
| where type == 'microsoft.security/securescores'
| project subscriptionId, score = round(100 * todouble(properties.score.percentage), 1)
| order by score asc`
	samples2 = `securityresources
| where type == 'microsoft.security/assessments' and properties.status.code == 'Unhealthy'
| summarize count() by severity = tostring(properties.metadata.severity)
| order by count_ desc`
	samples3 = `policyresources
| where type == 'microsoft.authorization/policyexemptions'
| extend expiresOn = todatetime(properties.expiresOn)
| where isnotnull(expiresOn) and expiresOn >= now() and expiresOn <= now() + 30d
| project id, name, displayName = tostring(properties.displayName), category = tostring(properties.exemptionCategory), expiresOn, assignment = tostring(properties.policyAssignmentId)
| order by expiresOn asc`
)

// parseMix turns --mix into operations with integer weights: a profile,
// or name=weight pairs of operations and groups (a group's weight is
// shared among its members in their proportions).
func parseMix(s string) ([]*loadOp, error) {
	if p, ok := loadProfiles[strings.TrimSpace(s)]; ok {
		s = p
	}
	weights := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		name, w, found := strings.Cut(strings.TrimSpace(part), "=")
		weight := 1.0
		if found {
			f, err := strconv.ParseFloat(w, 64)
			if err != nil || f < 0 || f > 1e6 {
				return nil, fmt.Errorf("--mix %q: the weight of %s is not a number 0..1000000", s, name)
			}
			weight = f
		}
		if g, ok := loadGroups[name]; ok {
			sum := 0
			for _, m := range g {
				sum += m.weight
			}
			for _, m := range g {
				weights[m.name] += weight * float64(m.weight) / float64(sum)
			}
			continue
		}
		if _, ok := loadOps[name]; !ok {
			return nil, fmt.Errorf("--mix: no operation, group or profile %q", name)
		}
		weights[name] += weight
	}
	var ops []*loadOp
	for name, w := range weights {
		// Weights in thousandths, so that 70/20/10 of a group weighted 70
		// stays exact.
		if n := int(w*1000 + 0.5); n > 0 {
			op := *loadOps[name]
			op.name, op.weight = name, n
			ops = append(ops, &op)
		}
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("--mix %q: no operation has a weight", s)
	}
	slices.SortFunc(ops, func(a, b *loadOp) int { return strings.Compare(a.name, b.name) })
	return ops, nil
}

// pick chooses an operation by weight.
func pick(ops []*loadOp, rng *rand.Rand) *loadOp {
	total := 0
	for _, op := range ops {
		total += op.weight
	}
	n := rng.IntN(total)
	for _, op := range ops {
		if n < op.weight {
			return op
		}
		n -= op.weight
	}
	return ops[len(ops)-1]
}

func (r *loadRun) uses(prefix string) bool {
	return slices.ContainsFunc(r.ops, func(op *loadOp) bool { return strings.HasPrefix(op.name, prefix) })
}

func (r *loadRun) urlStrings() []string {
	var s []string
	for _, u := range r.urls {
		s = append(s, u.String())
	}
	if r.single != nil {
		s = []string{r.single.String()}
	}
	return s
}

func (r *loadRun) mixWeights() map[string]float64 {
	total := 0
	for _, op := range r.ops {
		total += op.weight
	}
	m := map[string]float64{}
	for _, op := range r.ops {
		m[op.name] = float64(op.weight) / float64(total)
	}
	return m
}

// loadClient is one simulated user on one server: the API with the
// token, and the portal with its own session cookie.
type loadClient struct {
	run  *loadRun
	base string
	api  *http.Client
	page *http.Client // nil unless the mix has pages
	csrf string
}

// client returns the i-th client, made (and signed in when the mix has
// pages) on first use.
func (r *loadRun) client(ctx context.Context, i int) (*loadClient, error) {
	for len(r.clients) <= i {
		n := len(r.clients)
		c := &loadClient{run: r, base: r.urls[n%len(r.urls)].String(), api: &http.Client{Transport: r.tr, Timeout: time.Minute}}
		if r.uses("page-") {
			if err := c.signIn(ctx); err != nil {
				return nil, err
			}
		}
		r.clients = append(r.clients, c)
	}
	return r.clients[i], nil
}

// setup waits until the first server is ready, makes a client per URL
// (signed in when the mix has pages), finds
// what the exemption operations exempt and, through the first URL, puts
// half of the pool's exemptions in place.
func (r *loadRun) setup(ctx context.Context, c *LoadCmd) error {
	if r.single != nil {
		return nil
	}
	// The first server sets up; the others' answers, ready or not, are
	// what the steps measure.
	if err := r.waitReady(ctx, r.urls[0].String()); err != nil {
		return err
	}
	for i := range r.urls {
		if _, err := r.client(ctx, i); err != nil {
			return err
		}
	}
	if !r.uses("exemption-") {
		return nil
	}
	targets, err := r.clients[0].exemptionTargets(ctx)
	if err != nil {
		return err
	}
	r.pool.init(targets, r.seed)
	// The first half exists, the second does not (a run stopped before its
	// cleanup may have left some): PUT and DELETE, eight at a time.
	cl := r.clients[0]
	return r.pool.each(ctx, 8, func(i int) error {
		var res loadResult
		if i < r.pool.size/2 {
			res = cl.putSlot(ctx, i)
			if res.err == nil && (res.status == 200 || res.status == 201) {
				r.pool.slots[i].exists = true
				return nil
			}
		} else if res = cl.deleteSlot(ctx, i); res.err == nil && (res.status == 200 || res.status == 204) {
			return nil
		}
		return setupError(res, "setting up exemption "+r.pool.name(i))
	})
}

// waitReady waits, up to two minutes, until a server says it is ready
// (/readyz: its store answers and its views are loaded); a server from
// before /readyz (404, or 401 from its ARM router) is taken as ready.
func (r *loadRun) waitReady(ctx context.Context, base string) error {
	hc := &http.Client{Transport: r.tr, Timeout: 10 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK, http.StatusNotFound, http.StatusUnauthorized:
				// 404 or 401: a server from before /readyz.
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s is not ready: %w", base, err)
			}
			return fmt.Errorf("%s is not ready after two minutes: HTTP %d %s", base, resp.StatusCode, bytes.TrimSpace(body))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cleanup deletes the exemptions the run left (through the first URL) and
// signs the portal clients out.
func (r *loadRun) cleanup(ctx context.Context, keep bool) error {
	var errs []error
	if !keep && len(r.pool.slots) > 0 {
		errs = append(errs, r.pool.each(ctx, 8, func(i int) error {
			if !r.pool.slots[i].exists {
				return nil
			}
			res := r.clients[0].deleteSlot(ctx, i)
			if res.err == nil && (res.status == 200 || res.status == 204) {
				r.pool.slots[i].exists = false
				return nil
			}
			return setupError(res, "deleting exemption "+r.pool.name(i))
		}))
	}
	for _, c := range r.clients {
		if c.page != nil {
			c.signOut(ctx)
		}
	}
	return errors.Join(errs...)
}

func setupError(res loadResult, what string) error {
	if res.err != nil {
		return fmt.Errorf("%s: %w", what, res.err)
	}
	return fmt.Errorf("%s: HTTP %d %s", what, res.status, bytes.TrimSpace(res.body))
}

// do sends one request and reads the whole answer (so the connection is
// reused); it keeps the start of the body only for statuses the
// operation does not expect.
func (c *loadClient) do(ctx context.Context, hc *http.Client, method, path string, body []byte, ok func(int) bool) loadResult {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return loadResult{err: err}
	}
	if hc == c.api {
		req.Header.Set("Authorization", "Bearer "+c.run.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return loadResult{err: err}
	}
	defer resp.Body.Close()
	res := loadResult{status: resp.StatusCode}
	if ok != nil && ok(resp.StatusCode) {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, 300))
		io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		res.err = err
	}
	return res
}

// request is the single-request mode's operation.
func (c *loadClient) request(ctx context.Context) loadResult {
	u := c.run.single
	return c.do(ctx, c.api, c.run.method, strings.TrimPrefix(u.String(), c.base), nil, func(s int) bool { return s < 400 })
}

func kqlOp(q string) func(*loadClient, context.Context) loadResult {
	body, _ := json.Marshal(map[string]any{"query": q})
	return func(c *loadClient, ctx context.Context) loadResult {
		return c.do(ctx, c.api, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", body, isOK(200))
	}
}

func pageOp(path string) func(*loadClient, context.Context) loadResult {
	return func(c *loadClient, ctx context.Context) loadResult {
		return c.do(ctx, c.page, http.MethodGet, path, nil, isOK(200))
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in to the portal as a user does: the sign-in form with the
// token, from the same origin; the session cookie stays in the client's
// jar. The overview it then reads carries the form token for signing out.
func (c *loadClient) signIn(ctx context.Context) error {
	jar, _ := cookiejar.New(nil)
	c.page = &http.Client{Transport: c.run.tr, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"token": {c.run.token}, "returnTo": {"/"}}.Encode()
	if res := c.form(ctx, "/signin", form); res.err != nil || res.status != http.StatusSeeOther {
		return setupError(res, "portal sign-in at "+c.base)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/", nil)
	resp, err := c.page.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		return fmt.Errorf("portal overview after sign-in at %s: HTTP %d without a form token", c.base, resp.StatusCode)
	}
	c.csrf = string(m[1])
	return nil
}

func (c *loadClient) signOut(ctx context.Context) {
	c.form(ctx, "/signout", url.Values{"csrf": {c.csrf}}.Encode())
}

func (c *loadClient) form(ctx context.Context, path, form string) loadResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form))
	if err != nil {
		return loadResult{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	resp, err := c.page.Do(req)
	if err != nil {
		return loadResult{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	io.Copy(io.Discard, resp.Body)
	return loadResult{status: resp.StatusCode, body: b}
}
