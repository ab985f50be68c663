package main

// The request fuzzer sends generated and mutated requests to a real server
// over the demo estate and checks what every answer promises whatever was
// asked: no 5xx; on every API path a 4xx is ARM's error envelope
// {"error":{"code","message"}} with a JSON content type; a body announced as
// JSON is JSON; the answer comes from posture's handler (it carries
// x-ms-request-id), not from net/http refusing what the client sent. After
// a run the server still answers and has not leaked goroutines.
//
// TestRequestFuzz runs a few thousand generated requests in the ordinary
// test run; FuzzRequests is the same check under Go's fuzzer, seeded with
// generated requests (and testdata/fuzz/FuzzRequests):
//
//	go test ./cmd/posture -run '^$' -fuzz '^FuzzRequests$' -fuzztime 10m
//
// Both also fail on an ERROR the server logs (a feed that failed after the
// commit leaves Resource Graph or Defender behind the store). A failing
// generated request is written as a corpus file (its path is printed):
// copied into testdata/fuzz/FuzzRequests it stays a regression test.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/posture/posture/requests"
	"github.com/posture/posture/web"
)

// fuzzReq is one request: the arguments of FuzzRequests.
type fuzzReq struct {
	Method, Path, Query string
	// Auth picks the credentials (see fuzzEnv.authorize); its high bit
	// sends a bad credential from one fixed address, so that the sign-in
	// limiter's block is reached too.
	Auth                 uint8
	ContentType, IfMatch string
	Body                 []byte
}

// corpusFile is r as a file of Go's fuzz corpus for FuzzRequests.
func (r fuzzReq) corpusFile() string {
	return fmt.Sprintf("go test fuzz v1\nstring(%q)\nstring(%q)\nstring(%q)\nbyte(%q)\nstring(%q)\nstring(%q)\n[]byte(%q)\n",
		r.Method, r.Path, r.Query, r.Auth, r.ContentType, r.IfMatch, r.Body)
}

// Kinds of credentials a request carries.
const (
	authBootstrap = iota // the bootstrap principal's token (Owner at the root)
	authReader           // a principal with Reader on one subscription
	authNone             // no Authorization header
	authEmpty            // "Bearer" and nothing
	authGarbage          // a random bearer token
	authWrong            // the bootstrap token with a byte more
	authBasic            // another scheme
	authLowercase        // "bearer <token>": the scheme is case-insensitive
	authJWT              // a JWT-shaped token (no issuer is configured)
	authRevoked          // a token that was deleted
	authCookie           // the portal's session cookie, no header
	authKinds
)

// fuzzEnv is a running demo server and what the generator builds requests
// from: ids, documents and tokens read from it.
type fuzzEnv struct {
	s                  *server
	reader, revoked    string
	subs, groups, mgs  []string
	resources          []string // ids of tracked resources and their children
	resourceDocs       [][]byte // full documents, bodies for PUT
	assignments        []string
	definitions        []string
	sets               []string
	assessments        []string // ids of assessments
	assessmentKeys     []string
	refIDs             []string // policyDefinitionReferenceIds of the initiative
	automations        [][]byte // request bodies from the REST API examples
	contacts           [][]byte
	good, rotating, at *http.Client
}

// startFuzzEnv starts a demo server and reads what requests are built from.
func startFuzzEnv(t testing.TB) *fuzzEnv {
	t.Helper()
	s := startServer(t, "--demo")
	e := &fuzzEnv{s: s}
	e.good = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	// Bad credentials count against the caller's address; after ten in a
	// minute it is refused (api/signin.go). They come from addresses of
	// their own so that the good ones keep being served: one fresh
	// loopback address per request, or one fixed address for the block.
	var next atomic.Uint32
	e.rotating = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n := next.Add(1)%60000 + 1
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(n>>8), byte(n))}}
			return d.DialContext(ctx, network, addr)
		}}}
	e.at = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 77)}}
			return d.DialContext(ctx, network, addr)
		}}}

	rows := func(query string) []map[string]any {
		body, _ := json.Marshal(map[string]any{"query": query})
		code, _, b := s.raw(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", string(body))
		var out struct{ Data []map[string]any }
		if code != http.StatusOK || json.Unmarshal(b, &out) != nil {
			t.Fatalf("query %q: %d %s", query, code, b)
		}
		return out.Data
	}
	ids := func(query string) []string {
		var out []string
		for _, r := range rows(query) {
			out = append(out, r["id"].(string))
		}
		if len(out) == 0 {
			t.Fatalf("no ids from %q", query)
		}
		return out
	}
	e.subs = ids(`ResourceContainers | where type =~ 'microsoft.resources/subscriptions' | project id | order by id asc`)
	e.groups = ids(`ResourceContainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups' | project id | order by id asc`)
	e.mgs = ids(`ResourceContainers | where type =~ 'microsoft.management/managementgroups' | project id | order by id asc`)
	for _, r := range rows(`Resources | summarize arg_max(name, id, properties, location, tags, kind, sku) by type | order by type asc`) {
		e.resources = append(e.resources, r["id"].(string))
		doc, _ := json.Marshal(map[string]any{"location": r["location"], "tags": r["tags"], "kind": r["kind"], "sku": r["sku"], "properties": r["properties"]})
		e.resourceDocs = append(e.resourceDocs, doc)
	}
	e.assignments = ids(`PolicyResources | where type =~ 'microsoft.authorization/policyassignments' | project id | order by id asc`)
	e.definitions = ids(`PolicyResources | where type =~ 'microsoft.authorization/policydefinitions' | order by id asc | take 20 | project id`)
	e.sets = ids(`PolicyResources | where type =~ 'microsoft.authorization/policysetdefinitions' | project id | order by id asc`)
	for _, r := range rows(`SecurityResources | where type =~ 'microsoft.security/assessments' | order by id asc | take 30 | project id, name`) {
		e.assessments = append(e.assessments, r["id"].(string))
		e.assessmentKeys = append(e.assessmentKeys, r["name"].(string))
	}
	for _, r := range rows(`PolicyResources | where type =~ 'microsoft.policyinsights/policystates' | distinct ref = tostring(properties.policyDefinitionReferenceId) | order by ref asc | take 20`) {
		for _, v := range r {
			if s, ok := v.(string); ok && s != "" {
				e.refIDs = append(e.refIDs, s)
			}
		}
	}
	e.automations = exampleBodies(t, "../../automation/testdata/*/*.json")
	e.contacts = exampleBodies(t, "../../securitycontact/testdata/*/*.json")

	// A principal with less than Owner, so that requests meet 403s, and a
	// token that no longer works.
	code, _, b := s.raw(t, http.MethodPut, "/providers/Posture.Identity/principals/fuzz-reader?api-version=2026-11-01", `{"properties":{"principalType":"User","displayName":"Fuzz Reader"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create principal: %d %s", code, b)
	}
	mint := func(name string) string {
		code, _, b := s.raw(t, http.MethodPut, "/providers/Posture.Identity/principals/fuzz-reader/tokens/"+name+"?api-version=2026-11-01", `{"properties":{"displayName":"fuzz"}}`)
		var tok struct{ Properties struct{ Secret string } }
		if err := json.Unmarshal(b, &tok); code != http.StatusCreated || err != nil || tok.Properties.Secret == "" {
			t.Fatalf("create token: %d %s", code, b)
		}
		return tok.Properties.Secret
	}
	e.reader, e.revoked = mint("fuzz-reader"), mint("fuzz-revoked")
	if code, _, b := s.raw(t, http.MethodDelete, "/providers/Posture.Identity/principals/fuzz-reader/tokens/fuzz-revoked?api-version=2026-11-01", ""); code != http.StatusOK {
		t.Fatalf("revoke token: %d %s", code, b)
	}
	code, _, b = s.raw(t, http.MethodPut, e.subs[0]+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7","principalId":"fuzz-reader"}}`)
	if code != http.StatusCreated {
		t.Fatalf("assign Reader: %d %s", code, b)
	}
	return e
}

// exampleBodies reads the request bodies of Azure's REST API examples: the
// object under "parameters" that has "properties".
func exampleBodies(t testing.TB, glob string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples at %s: %v", glob, err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ex struct{ Parameters map[string]json.RawMessage }
		if err := json.Unmarshal(b, &ex); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, v := range ex.Parameters {
			var o map[string]json.RawMessage
			if json.Unmarshal(v, &o) == nil && o["properties"] != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// send sends r and checks the answer; it returns what is wrong with it, ""
// when nothing is.
func (e *fuzzEnv) send(r fuzzReq) (status int, problem string) {
	req, err := e.build(r)
	if err != nil {
		return 0, "" // not a request net/http can send; nothing to check
	}
	c := e.good
	switch {
	case r.Auth&0x80 != 0 && badAuth(r.Auth):
		c = e.at
	case badAuth(r.Auth):
		c = e.rotating
	}
	resp, err := c.Do(req)
	if err != nil {
		if len(r.Body) > 16<<10 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			// The server answered (a 401, say) without reading a large
			// body and closed the connection, which the kernel resets
			// while the client still writes: what net/http does with an
			// unread body when the connection is not kept. (Status 0 in
			// the counts.)
			return 0, ""
		}
		return 0, fmt.Sprintf("no answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Sprintf("reading the answer (status %d): %v", resp.StatusCode, err)
	}
	if os.Getenv("POSTURE_REQUEST_FUZZ_DEBUG") != "" {
		var env struct{ Error struct{ Code string } }
		_ = json.Unmarshal(body, &env)
		fmt.Fprintf(os.Stderr, "DEBUG %s %d %s %s %.150s\n", r.Method, resp.StatusCode, env.Error.Code, req.URL.Path, body)
	}
	return resp.StatusCode, checkAnswer(req, resp, body)
}

// badAuth reports whether the credentials of kind a fail sign-in.
func badAuth(a uint8) bool {
	switch a & 0x7f % authKinds {
	case authGarbage, authWrong, authBasic, authJWT, authRevoked, authEmpty:
		return true
	}
	return false
}

// build turns r into an *http.Request. The path and the query are sent as
// given, once made sendable: bytes a request line cannot hold are
// percent-encoded, so what the fuzzer varies is what the handler sees.
func (e *fuzzEnv) build(r fuzzReq) (*http.Request, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	raw := sendable(r.Path, false)
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(e.s.url)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawPath, u.RawQuery = path, raw, sendable(r.Query, true)
	if u.EscapedPath() != raw {
		// net/http would send another spelling of the path; send it
		// as written.
		u.Path, u.RawPath, u.Opaque = "", "", raw
		if strings.HasPrefix(raw, "//") {
			// An opaque "//…" is sent as an absolute URL: say so.
			u.Opaque = "//" + u.Host + raw
		}
	}
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.URL = u
	if ct := headerValue(r.ContentType); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if m := headerValue(r.IfMatch); m != "" {
		if m[0] == '!' {
			req.Header.Set("If-None-Match", m[1:])
		} else {
			req.Header.Set("If-Match", m)
		}
	}
	req.Header.Set("Origin", e.s.url) // the portal's forms ask for it
	e.authorize(req, r.Auth)
	return req, nil
}

func (e *fuzzEnv) authorize(req *http.Request, a uint8) {
	set := func(v string) { req.Header.Set("Authorization", v) }
	switch a & 0x7f % authKinds {
	case authBootstrap:
		set("Bearer " + e.s.token)
	case authReader:
		set("Bearer " + e.reader)
	case authEmpty:
		set("Bearer ")
	case authGarbage:
		set("Bearer pst_" + strings.Repeat("A", int(a)%90))
	case authWrong:
		set("Bearer " + e.s.token + "x")
	case authBasic:
		set("Basic Zm9vOmJhcg==")
	case authLowercase:
		set("bearer  " + e.s.token + " ")
	case authJWT:
		set("Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuY29tIiwic3ViIjoieCJ9.c2ln")
	case authRevoked:
		set("Bearer " + e.revoked)
	case authCookie:
		req.AddCookie(&http.Cookie{Name: "posture_session", Value: e.s.token})
	}
}

// sendable percent-encodes what cannot stand in a request line: control
// bytes, spaces, non-ASCII, '#', '?' in a path, and a '%' that does not
// start an escape.
func sendable(s string, query bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		case c <= ' ' || c >= 0x7f || c == '#' || c == '%' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' || (c == '?' && !query):
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// headerValue drops the bytes a header value cannot hold.
func headerValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\t' || c >= ' ' && c != 0x7f {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// isAPIPath reports whether the server answers path with the ARM
// dispatcher (or another handler that writes ARM errors), as
// api.Server.serve decides: not /healthz, /metrics, a link page or a portal
// page.
func isAPIPath(path string) bool {
	switch path {
	case "/healthz", "/metrics", requests.LinkPath:
		return false
	}
	return !(&web.Portal{}).Owns(path)
}

// checkAnswer checks one answer; it returns what is wrong, "" when nothing
// is.
func checkAnswer(req *http.Request, resp *http.Response, body []byte) string {
	if resp.Header.Get("x-ms-request-id") == "" && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		// (net/http's own 431 for headers over the server's limit is
		// the limit working.)
		return fmt.Sprintf("status %d without x-ms-request-id: the request did not reach posture's handler: %.300q", resp.StatusCode, body)
	}
	if resp.StatusCode >= 500 {
		return fmt.Sprintf("status %d: %.500s", resp.StatusCode, body)
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt == "application/json" && len(body) > 0 && !json.Valid(body) {
		return fmt.Sprintf("status %d: the body announced as JSON is not JSON: %.300q", resp.StatusCode, body)
	}
	if resp.StatusCode < 400 || !isAPIPath(req.URL.Path) || req.Method == http.MethodHead {
		return ""
	}
	if mt != "application/json" {
		return fmt.Sprintf("status %d with Content-Type %q, not JSON: %.300q", resp.StatusCode, ct, body)
	}
	var env struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil || env.Error.Code == nil || env.Error.Message == nil ||
		*env.Error.Code == "" || *env.Error.Message == "" {
		return fmt.Sprintf("status %d without an ARM error envelope: %.300s", resp.StatusCode, body)
	}
	return ""
}

// healthy checks that the server still serves: /healthz and an
// authenticated list.
func (e *fuzzEnv) healthy(t testing.TB) {
	t.Helper()
	resp, err := e.good.Get(e.s.url + "/healthz")
	if err != nil {
		t.Fatalf("healthz after the run: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the run: %d", resp.StatusCode)
	}
	if code, _, b := e.s.raw(t, http.MethodGet, "/subscriptions?api-version=2022-12-01", ""); code != http.StatusOK {
		t.Fatalf("GET /subscriptions after the run: %d %s", code, b)
	}
}

// settledGoroutines is the number of goroutines once idle connections are
// closed and it stops falling (or 5 s have passed).
func (e *fuzzEnv) settledGoroutines() int {
	for _, c := range []*http.Client{e.good, e.rotating, e.at} {
		c.CloseIdleConnections()
	}
	http.DefaultClient.CloseIdleConnections()
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// TestRequestFuzz sends a few thousand generated requests (a fixed seed,
// four at a time) and checks every answer, then that the server is still
// healthy and keeps no more goroutines than before, give or take a bound
// for background jobs. POSTURE_REQUEST_FUZZ=n sends n instead, and
// POSTURE_REQUEST_FUZZ_SEED=s makes up others; POSTURE_REQUEST_FUZZ_DEBUG=1
// prints every answer's status and code (to see what the requests reach).
func TestRequestFuzz(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	if v := os.Getenv("POSTURE_REQUEST_FUZZ"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	e := startFuzzEnv(t)
	e.healthy(t)
	before := e.settledGoroutines()

	seed := uint64(1)
	if v := os.Getenv("POSTURE_REQUEST_FUZZ_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	g := newGen(e, seed)
	reqs := make([]fuzzReq, n)
	for i := range reqs {
		reqs[i] = g.request()
	}
	var (
		mu       sync.Mutex
		failures []string
		statuses = map[int]int{}
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				status, msg := e.send(reqs[i])
				mu.Lock()
				statuses[status]++
				if msg != "" {
					failures = append(failures, fmt.Sprintf("request %d %s %.200q?%.200q: %s\n  as a seed: %s", i, reqs[i].Method, reqs[i].Path, reqs[i].Query, msg, saveSeed(t, reqs[i])))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests, answers by status: %v", n, statuses)
	// An error the server logs is a finding even when the answer was
	// fine: a feed that failed after the commit leaves a view (Resource
	// Graph, Defender) behind the store.
	if errs := serverErrors(e.s.err.String(), 20); errs != "" {
		t.Errorf("the server logged errors:\n%s", errs)
	}
	for i, f := range failures {
		if i == 20 {
			t.Errorf("… and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
	e.healthy(t)
	// Background jobs (expiry timers, the outbox) may hold a few more
	// goroutines than at the start; a leak per request would be hundreds.
	const bound = 30
	if after := e.settledGoroutines(); after > before+bound {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d before %d requests, %d after (bound %d)\n%s", before, n, after, bound, buf)
	}
}

// serverErrors returns up to n of the server's ERROR log lines, each cut
// to 2,000 bytes.
func serverErrors(log string, n int) string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"level":"ERROR"`) && len(out) < n {
			out = append(out, fmt.Sprintf("%.2000s", strings.TrimSpace(line)))
		}
	}
	return strings.Join(out, "\n")
}

// saveSeed writes r as a corpus file in a temporary directory and returns
// its path: copied into testdata/fuzz/FuzzRequests it is a regression
// test.
func saveSeed(t testing.TB, r fuzzReq) string {
	dir := filepath.Join(os.TempDir(), "posture-requestfuzz")
	body := r.corpusFile()
	name := filepath.Join(dir, fmt.Sprintf("%x", sha256.Sum256([]byte(body)))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err.Error()
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		return err.Error()
	}
	return name
}

// FuzzRequests checks the answer to each request the fuzzer makes up. Its
// seeds are generated requests of every shape; each fuzzing worker starts
// its own server.
func FuzzRequests(f *testing.F) {
	e := startFuzzEnv(f)
	g := newGen(e, 2)
	for range 150 {
		r := g.request()
		f.Add(r.Method, r.Path, r.Query, r.Auth, r.ContentType, r.IfMatch, r.Body)
	}
	f.Fuzz(func(t *testing.T, method, path, query string, auth uint8, contentType, ifMatch string, body []byte) {
		if len(body) > 1<<20 || len(path)+len(query) > 1<<16 {
			return // body and header limits are another check's
		}
		r := fuzzReq{method, path, query, auth, contentType, ifMatch, body}
		logged := len(e.s.err.String())
		if _, msg := e.send(r); msg != "" {
			t.Fatalf("%s %.200s?%.200s: %s\nthe server's errors:\n%s", method, path, query, msg, serverErrors(e.s.err.String()[logged:], 5))
		}
		// Feeds run before a write returns: an error they log belongs to
		// this request, even when its answer was fine.
		if errs := serverErrors(e.s.err.String()[logged:], 5); errs != "" {
			t.Fatalf("%s %.200s?%.200s: the server logged errors:\n%s", method, path, query, errs)
		}
	})
}

// gen makes up requests from the shapes of posture's API and the ids of the
// demo estate, then spoils some of them.
type gen struct {
	r     *rand.Rand
	e     *fuzzEnv
	n     int
	clean bool
	// assignment is the policy assignment the exemption being made
	// names: its scope is at or below the assignment's.
	assignment string
	// made are the items PUT so far, by kind, so that later requests
	// read, change, delete and act on them; itemPath is the item of the
	// request being made.
	made     map[string][]made
	itemPath string
}

type made struct{ path, assignment string }

// item is the path of an item in the collection at path: one PUT before
// (with its assignment), or a new one.
func (g *gen) item(kind, path string) string {
	if m := g.made[kind]; len(m) > 0 && g.chance(0.6) {
		x := m[g.r.IntN(len(m))]
		g.itemPath, g.assignment = x.path, x.assignment
		return x.path
	}
	g.itemPath = path + "/" + g.name()
	return g.itemPath
}

func newGen(e *fuzzEnv, seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 0x5eed)), e: e, made: map[string][]made{}}
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) pickAny(xs []any) any    { return xs[g.r.IntN(len(xs))] }
func (g *gen) uuid() string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.r.Uint32(), g.r.IntN(1<<16), g.r.IntN(1<<12), g.r.IntN(1<<12), g.r.Uint64()&(1<<48-1))
}
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// expiry is an exemption's expiresOn: within governance's limits (a Waiver
// must end, a High one within 90 days), or, spoiled, one that is not.
func (g *gen) expiry() string {
	if g.spoil(0.3) {
		return g.pick([]string{"", "2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "tomorrow", "2030-02-30T00:00:00Z", "9999-12-31T23:59:59Z"})
	}
	// A few end within seconds: the expiry job and the reads after it
	// then meet them.
	d := time.Duration(1+g.r.IntN(60*24)) * time.Hour
	if g.chance(0.1) {
		d = time.Duration(1+g.r.IntN(5)) * time.Second
	}
	return time.Now().Add(d).UTC().Format(time.RFC3339)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// spoil is chance, never for a clean request.
func (g *gen) spoil(p float64) bool { return !g.clean && g.chance(p) }

// Versions the API serves, and others.
var (
	fuzzGoodVersions = []string{"2014-04-01", "2021-04-01", "2022-12-01", "2020-05-01", "2022-06-01", "2023-04-01", "2025-03-01",
		"2022-07-01-preview", "2024-12-01-preview", "2020-07-01-preview", "2022-10-01", "2021-03-01", "2019-01-01-preview",
		"2020-01-01", "2021-06-01", "2020-01-01-preview", "2023-12-01-preview", "2017-08-01-preview", "2019-10-01", "2022-04-01",
		"2015-04-01", "2026-11-01", "2023-07-01", "2015-07-01"}
	fuzzBadVersions = []string{"", "latest", "2022-13-45", "9999-01-01", "2013-12-31", "2022-12-01-preview-preview",
		"2022-12-01-alpha", "2022-12-01-Preview", "２０２２-１２-０１", "2022-12-01\x00", "2022-12-01&api-version=2021-04-01",
		strings.Repeat("2022-", 200), "0000-00-00", "2022-12-1", " 2022-12-01"}
)

// scope is an id requests hang extension resources on.
func (g *gen) scope() string {
	e := g.e
	switch g.r.IntN(6) {
	case 0:
		return g.pick(e.mgs)
	case 1, 2:
		return g.pick(e.subs)
	case 3:
		return g.pick(e.groups)
	case 4:
		return g.pick(e.resources)
	}
	return ""
}

// scopeUnder is a scope at or below an assignment's: its subscription, or
// a resource group or resource in it.
func (g *gen) scopeUnder(assignment string) string {
	sub, _, _ := strings.Cut(strings.TrimPrefix(assignment, "/subscriptions/"), "/")
	sub = "/subscriptions/" + sub
	var in []string
	for _, id := range append(g.e.groups, g.e.resources...) {
		if strings.HasPrefix(id, sub+"/") {
			in = append(in, id)
		}
	}
	if len(in) == 0 || g.chance(0.3) {
		return sub
	}
	return g.pick(in)
}

// name is the name of a new item: usually plain, sometimes odd.
func (g *gen) name() string {
	if !g.spoil(0.1) {
		g.n++
		return fmt.Sprintf("fz-%d", g.n)
	}
	return g.oddSegment()
}

var oddSegments = []string{"", ".", "..", "%2F", "%2f..%2f", "%00", "%25", "%20", "a b", "ünïcødé", "\u202eevil", "😀", "%F0%9F%98", "%ff",
	"'", `"`, "<script>", "*", "providers", "resourceGroups", "subscriptions", "Microsoft.Authorization", "policyExemptions",
	"%3F", "%23", ";", "a:b", "CON", "~", "$metadata", "null", "-1", "00000000-0000-0000-0000-000000000000", "x.", "\t", "\\",
	"%C0%AF", "%E2%80%8B", "a%2Fb"}

func (g *gen) oddSegment() string {
	if g.chance(0.1) {
		return strings.Repeat(g.pick([]string{"a", "ü", "%2F", "0"}), 1+g.r.IntN(5000))
	}
	return g.pick(oddSegments)
}

// request makes up one request: a clean one (a real shape, nothing
// spoiled, good credentials) three times in ten, so that writes get past
// validation into evaluation, exemptions and the feeds.
func (g *gen) request() fuzzReq {
	e := g.e
	g.clean, g.assignment, g.itemPath = g.chance(0.3), "", ""
	var (
		r       fuzzReq
		kind    string // what body the path takes
		methods []string
		version []string
		params  []string
	)
	items := []string{"GET", "GET", "PUT", "PUT", "PUT", "PATCH", "DELETE", "HEAD"}
	switch g.r.IntN(18) {
	case 0: // the estate
		if g.chance(0.5) {
			r.Path, kind = g.pick(e.resources), "resource"
		} else {
			r.Path = g.pick(e.groups) + "/providers/" + g.pick([]string{"Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.Web/sites/" + g.name() + "/config", "a.b/c", "Microsoft.Compute/virtualMachines"}) + "/" + g.name()
			kind = "resource"
		}
		methods, version = []string{"GET", "PUT", "PUT", "PATCH", "HEAD", "DELETE"}, nil
	case 1: // containers and lists
		r.Path = g.pick(append(append(append([]string{"/subscriptions", "/tenants", "/providers/Microsoft.Management/managementGroups"}, e.subs...), e.groups...), e.mgs...))
		if g.chance(0.4) {
			r.Path += g.pick([]string{"/resources", "/resourceGroups", "/resourcegroups/" + g.name(), "/subscriptions/" + g.pick(e.subs)[len("/subscriptions/"):], "/providers"})
		}
		kind, methods, version = "container", items, []string{"2022-12-01", "2021-04-01", "2020-05-01", "2023-04-01"}
		params = []string{"$filter", "$top", "$skipToken", "$expand"}
	case 2, 3, 4: // exemptions
		g.assignment = g.pick(e.assignments)
		r.Path = g.scopeUnder(g.assignment) + "/providers/Microsoft.Authorization/policyExemptions"
		kind, methods, version = "exemption", []string{"GET"}, []string{"2022-07-01-preview", "2024-12-01-preview", "2020-07-01-preview", "2025-12-01-preview", "2026-01-01-preview"}
		params = []string{"$filter"}
		if g.chance(0.8) {
			r.Path = g.item("exemption", r.Path)
			methods = items
			switch g.r.IntN(5) {
			case 0:
				r.Path += "/" + g.pick([]string{"preview", "explain"})
				methods, kind = []string{"POST"}, g.pick([]string{"exemption", "explain"})
			case 1:
				r.Path += "/history"
				methods = []string{"GET"}
			}
		}
	case 5, 6: // policy objects
		typ := g.pick([]string{"policyAssignments", "policyDefinitions", "policySetDefinitions"})
		r.Path = g.scope() + "/providers/Microsoft.Authorization/" + typ
		if g.chance(0.8) {
			r.Path += "/" + g.name()
			methods = items
		} else {
			methods = []string{"GET"}
		}
		if g.chance(0.3) {
			r.Path = g.pick(append(append(e.assignments, e.definitions...), e.sets...))
			methods = []string{"GET", "GET", "PUT", "HEAD"}
		}
		kind, version = typ, []string{"2022-06-01", "2023-04-01", "2021-06-01", "2019-09-01"}
		params = []string{"$filter", "$expand", "$top"}
	case 7: // policy states
		r.Path = g.scope() + "/providers/Microsoft.PolicyInsights/policyStates/" + g.pick([]string{"latest", "default", "latest", g.oddSegment()}) + "/queryResults"
		kind, methods, version = "states", []string{"POST"}, []string{"2019-10-01", "2022-04-01", "2018-04-04", "2024-10-01"}
		params = []string{"$filter", "$top", "$apply", "$select", "$orderby", "$skipToken", "$from", "$to", "$expand"}
	case 8, 9: // Resource Graph
		r.Path = "/providers/Microsoft.ResourceGraph/resources"
		kind, methods, version = "kql", []string{"POST"}, []string{"2022-10-01", "2021-03-01", "2024-04-01", "2019-04-01"}
	case 10: // Defender
		sub := g.pick(e.subs)
		assessments := []string{"2019-01-01-preview", "2020-01-01", "2021-06-01", "2025-05-04"}
		scores := []string{"2020-01-01", "2020-01-01-preview", "2023-12-01-preview"}
		paths := []struct {
			path     string
			versions []string
		}{
			{g.pick(e.assessments), assessments},
			{g.scope() + "/providers/Microsoft.Security/assessments", assessments},
			{g.pick(e.resources) + "/providers/Microsoft.Security/assessments/" + g.pick(e.assessmentKeys), assessments},
			{"/providers/Microsoft.Security/assessmentMetadata/" + g.pick(e.assessmentKeys), assessments},
			{sub + "/providers/Microsoft.Security/assessmentMetadata", assessments},
			{sub + "/providers/Microsoft.Security/secureScores", scores},
			{sub + "/providers/Microsoft.Security/secureScores/ascScore", scores},
			{sub + "/providers/Microsoft.Security/secureScores/" + g.pick([]string{"ascScore", g.name()}) + "/secureScoreControls", scores},
			{sub + "/providers/Microsoft.Security/secureScoreControls", scores},
			{"/providers/Microsoft.Security/secureScoreControlDefinitions", scores},
			{sub + "/providers/Microsoft.Security/regulatoryComplianceStandards", []string{"2019-01-01-preview"}},
			{sub + "/providers/Microsoft.Security/regulatoryComplianceStandards/" + g.pick([]string{"PCI", "Microsoft-cloud-security-benchmark", g.name()}) + "/regulatoryComplianceControls", []string{"2019-01-01-preview"}},
		}
		p := paths[g.r.IntN(len(paths))]
		r.Path, version = p.path, p.versions
		kind, methods = "assessment", []string{"GET", "GET", "GET", "PUT", "DELETE", "HEAD"}
		params = []string{"$filter", "$expand", "$top"}
	case 11: // automations and contacts
		if g.chance(0.5) {
			r.Path = g.pick(e.subs) + "/providers/Microsoft.Security/securityContacts"
			kind, version = "contact", []string{"2017-08-01-preview", "2020-01-01-preview", "2023-12-01-preview"}
		} else {
			r.Path = g.pick(append(e.subs, e.groups...)) + "/providers/Microsoft.Security/automations"
			kind, version = "automation", []string{"2019-01-01-preview", "2023-12-01-preview"}
		}
		methods = []string{"GET"}
		if g.chance(0.8) {
			r.Path += "/" + g.pick([]string{"default", g.name()})
			methods = items
			if kind == "automation" && g.chance(0.2) {
				r.Path += "/validate"
				methods = []string{"POST"}
			}
		}
	case 12: // exemption requests
		r.Path = g.scope() + "/providers/Microsoft.Security/exemptionRequests"
		kind, methods, version = "request", []string{"GET"}, []string{requests.APIVersion}
		params = []string{"$filter"}
		if g.chance(0.8) {
			r.Path = g.item("request", r.Path)
			methods = items
			if g.chance(0.3) {
				r.Path += "/" + g.pick([]string{"approve", "reject", "withdraw"})
				kind, methods = "decision", []string{"POST"}
			}
		}
	case 13: // roles and principals
		switch g.r.IntN(4) {
		case 0:
			r.Path = g.scope() + "/providers/Microsoft.Authorization/roleAssignments/" + g.pick([]string{g.uuid(), g.name()})
			kind, version = "roleAssignment", []string{"2022-04-01", "2015-07-01", "2020-10-01-preview"}
		case 1:
			r.Path = g.scope() + "/providers/Microsoft.Authorization/roleDefinitions/" + g.pick([]string{g.uuid(), "acdd72a7-3385-48ef-bd42-f606fba81ae7", g.name()})
			kind, version = "roleDefinition", []string{"2022-04-01", "2015-07-01"}
		case 2:
			r.Path = "/providers/Posture.Identity/principals/" + g.pick([]string{"fz-p" + strconv.Itoa(g.r.IntN(5)), g.name()})
			kind, version = "principal", []string{"2026-11-01"}
		default:
			r.Path = "/providers/Posture.Identity/principals/" + g.pick([]string{"fuzz-reader", "fz-p" + strconv.Itoa(g.r.IntN(5)), g.name()}) + "/tokens/" + g.name()
			kind, version = "token", []string{"2026-11-01"}
		}
		methods = items
		if g.chance(0.2) {
			r.Path = r.Path[:strings.LastIndexByte(r.Path, '/')]
			methods = []string{"GET"}
			params = []string{"$filter"}
		}
	case 14: // posture's own endpoints
		switch g.r.IntN(5) {
		case 0:
			r.Path, kind, methods = "/providers/Posture.Estate/import", "import", []string{"POST"}
		case 1:
			r.Path, kind, methods = "/providers/Posture.Security/previewExemptions", "preview", []string{"POST"}
		case 2:
			r.Path, kind, methods = "/providers/Posture.Audit/ledger/"+g.pick([]string{"default", g.name()}), "none", []string{"GET"}
			params = []string{"from", "to", "$top", "format", "$skipToken"}
		case 3:
			r.Path, kind, methods = "/providers/Posture.Queue/jobs"+g.pick([]string{"", "/1", "/1/retry", "/" + g.name()}), "none", []string{"GET", "POST"}
			params = []string{"$filter", "$top"}
		default:
			r.Path, kind, methods = g.pick([]string{"", g.pick(e.subs)})+"/providers/Microsoft.Insights/eventtypes/management/values", "none", []string{"GET"}
			params = []string{"$filter", "$select"}
			version = []string{"2015-04-01", "2017-03-01-preview"}
		}
		if version == nil {
			version = []string{"2026-11-01"}
		}
	case 15: // not ARM: health, sign-in, links, portal pages
		r.Path = g.pick([]string{"/healthz", "/metrics", "/auth/login", "/auth/callback", requests.LinkPath, "/", "/recommendations",
			"/recommendations/" + g.pick(e.assessmentKeys), "/exempt", "/exempt/preview", "/request", "/trigger", "/approvals", "/requests/view",
			"/requests/decide", "/exemptions", "/exemptions/view", "/exemptions/edit", "/exemptions/delete", "/resource", "/query",
			"/query/download", "/audit", "/signin", "/signout", "/static/" + g.name()})
		kind, methods = "form", []string{"GET", "GET", "POST", "HEAD"}
		params = []string{"returnTo", "code", "state", "token", "id", "q", "scope", "control", "severity", "status", "sort", "dir", "tab", "page", "skipToken", "resource", "subscription"}
	default: // anything from the above, spoiled below
		r.Path = g.pick(append(append(e.resources, e.assessments...), e.assignments...))
		kind, methods = g.pick([]string{"resource", "exemption", "kql", "garbage"}), []string{"GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "get", "FOO"}
	}
	r.Method = g.pick(methods)
	if g.itemPath != "" && r.Path == g.itemPath && r.Method == "PUT" {
		g.made[kind] = append(g.made[kind], made{r.Path, g.assignment})
	}
	if g.spoil(0.02) {
		r.Method = g.pick([]string{"OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get", "Put", "X-FOO", "GET", "POST", "PATCH"})
	}
	if g.spoil(0.2) {
		r.Path = g.mutatePath(r.Path)
	}
	r.Query = g.query(version, params)
	r.Auth = g.auth()
	r.ContentType = g.pick([]string{"application/json", "application/json", "application/json; charset=utf-8", "", "text/plain",
		"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/merge-patch+json", "*/*", "application/json;;;"})
	if (r.Method == "PUT" || r.Method == "PATCH" || r.Method == "DELETE" || g.chance(0.1)) && !g.clean {
		r.IfMatch = g.pick([]string{"", "", "", "", "", "", "", "", "*", `"0x1"`, `W/"x"`, `"` + g.uuid() + `"`, "garbage", `"`, "!*", `!"x"`, strings.Repeat(`"a",`, 50)})
	}
	if r.Method != "GET" && r.Method != "HEAD" || g.chance(0.05) {
		r.Body = g.body(kind)
		if r.Method == "POST" && kind == "form" {
			r.ContentType = "application/x-www-form-urlencoded"
			r.Body = []byte(url.Values{"token": {g.pick([]string{e.s.token, "x", ""})}, "csrf": {"x"}, "returnTo": {g.pick([]string{"/", "//evil.example", "https://evil.example/", "/exemptions"})},
				"id": {g.pick(e.resources)}, "scope": {g.scope()}, "category": {"Waiver"}}.Encode())
		}
	}
	return r
}

func (g *gen) auth() uint8 {
	if g.clean {
		return uint8(g.pickAny([]any{authBootstrap, authBootstrap, authBootstrap, authReader}).(int))
	}
	var a uint8
	switch x := g.r.IntN(100); {
	case x < 70:
		a = authBootstrap
	case x < 82:
		a = authReader
	case x < 85:
		a = authLowercase
	case x < 88:
		a = authCookie
	default:
		a = uint8(g.r.IntN(authKinds))
	}
	a += uint8(authKinds * g.r.IntN(256/authKinds/2)) // the same kind, another garbage length
	if g.chance(0.05) {
		a |= 0x80
	}
	return a
}

func (g *gen) query(versions, params []string) string {
	q := url.Values{}
	switch {
	case g.spoil(0.05):
		q.Set("api-version", g.pick(fuzzBadVersions))
	case g.spoil(0.05) || versions == nil:
		q.Set("api-version", g.pick(fuzzGoodVersions))
	default:
		q.Set("api-version", g.pick(versions))
	}
	if g.spoil(0.03) {
		q.Add("api-version", g.pick(fuzzGoodVersions))
	}
	if g.spoil(0.03) {
		q.Del("api-version")
	}
	for _, p := range params {
		if g.chance(0.3) {
			q.Set(p, g.param(p))
		}
	}
	s := q.Encode()
	if g.spoil(0.05) {
		s = g.mutateString(s)
	}
	return s
}

var fuzzFilters = []string{"atScope()", "atExactScope()", "atScope() and excludeExpired()", "policyAssignmentId eq '%s'", "excludeExpired()",
	"IsCompliant eq false", "ComplianceState eq 'NonCompliant'", "resourceType eq 'Microsoft.Storage/storageAccounts'",
	"PolicyAssignmentId eq '%s' and ComplianceState eq 'NonCompliant'", "principalId eq 'fuzz-reader'", "assignedTo('fuzz-reader')",
	"eventTimestamp ge '2020-01-01T00:00:00Z' and eventTimestamp le '2030-01-01'", "state eq 'Dead'", "status eq 'Pending'",
	"name eq 'x' or name eq 'y'", "(", "eq", "a eq 'unterminated", "not atScope()", "atScope(", "policyAssignmentId eq ''''",
	"substringof('x', ResourceId)", "startswith(ResourceId, '/subscriptions')", "ResourceLocation in ('westeurope')", "1 eq 1", strings.Repeat("(", 500)}

func (g *gen) param(p string) string {
	switch p {
	case "$filter":
		f := g.pick(fuzzFilters)
		if strings.Contains(f, "%s") {
			f = fmt.Sprintf(f, g.pick(g.e.assignments))
		}
		return f
	case "$top":
		return g.pick([]string{"1", "0", "-1", "1000", "99999999999999999999", "abc", "1.5", " 2", "1e3"})
	case "$skipToken", "skipToken", "state", "code", "token":
		return g.pick([]string{"", "abc", "eyJvIjoxfQ", "MTAw", "%%%", strings.Repeat("A", 3000), "null", "-1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	case "$apply":
		return g.pick([]string{"groupby((ResourceId))", "groupby((PolicyAssignmentId, ResourceId), aggregate($count as NumStates))", "aggregate($count as N)", "groupby(", "filter(IsCompliant eq false)"})
	case "$from", "$to", "from", "to":
		return g.pick([]string{"2024-01-01T00:00:00Z", "2030-01-01", "yesterday", "0", "2024-13-01T00:00:00Z", "9999-12-31T23:59:59Z"})
	case "returnTo":
		return g.pick([]string{"/", "//evil.example", "https://evil.example", "/exemptions?x=1", "javascript:alert(1)"})
	case "id", "resource", "scope", "subscription":
		return g.pick([]string{g.pick(g.e.resources), g.scope(), g.oddSegment(), g.pick(g.e.assignments) + "/x"})
	case "q":
		return g.kql()
	}
	return g.pick([]string{"", "x", "definition", "1", "-1", "true", "asc", "desc", "High", g.oddSegment()})
}

// mutatePath spoils a path the ways clients and attackers do.
func (g *gen) mutatePath(p string) string {
	segs := strings.Split(p, "/")
	for range 1 + g.r.IntN(3) {
		i := g.r.IntN(len(segs))
		switch g.r.IntN(10) {
		case 0:
			segs[i] = g.oddSegment()
		case 1:
			segs = append(segs[:i], segs[i+1:]...)
			if len(segs) == 0 {
				segs = []string{""}
			}
		case 2:
			segs = append(segs[:i+1], segs[i:]...)
		case 3:
			segs[i] = strings.ToUpper(segs[i])
		case 4:
			segs[i] = url.PathEscape(segs[i])
		case 5:
			var b strings.Builder
			for _, c := range []byte(segs[i]) {
				if g.chance(0.3) {
					fmt.Fprintf(&b, "%%%02X", c)
				} else {
					b.WriteByte(c)
				}
			}
			segs[i] = b.String()
		case 6:
			segs = append(segs[:i], append([]string{g.pick([]string{"providers", "Microsoft.Foo", "subscriptions", "resourceGroups", "x"})}, segs[i:]...)...)
		case 7:
			return "/" + strings.Join(segs, "//")
		case 8:
			return strings.Join(segs, "/") + g.pick([]string{"/", "//", "/.", "/..", "?", "%3Fapi-version=2022-12-01", ";x", "%00"})
		default:
			segs[i] = g.mutateString(segs[i])
		}
	}
	return strings.Join(segs, "/")
}

// mutateString changes a few bytes of s.
func (g *gen) mutateString(s string) string {
	b := []byte(s)
	for range 1 + g.r.IntN(3) {
		switch op := g.r.IntN(4); {
		case len(b) == 0 || op == 0:
			b = append(b, byte(g.r.IntN(256)))
		case op == 1:
			b[g.r.IntN(len(b))] = byte(g.r.IntN(256))
		case op == 2:
			i := g.r.IntN(len(b))
			b = append(b[:i], b[i+1:]...)
		default:
			b = b[:g.r.IntN(len(b))]
		}
	}
	return string(b)
}

var fuzzQueries = []string{
	"Resources | take 5",
	"Resources | where type =~ 'microsoft.storage/storageaccounts' | project id, name, properties.supportsHttpsTrafficOnly",
	"Resources | summarize count() by type, location | order by count_ desc",
	"ResourceContainers | where type == 'microsoft.resources/subscriptions' | project subscriptionId, name",
	"SecurityResources | where type == 'microsoft.security/assessments' | extend code = tostring(properties.status.code) | summarize count() by code",
	"PolicyResources | where type =~ 'microsoft.policyinsights/policystates' | summarize n = count() by tostring(properties.complianceState)",
	"Resources | join kind=leftouter (ResourceContainers | where type =~ 'microsoft.resources/subscriptions' | project subscriptionId, sub = name) on subscriptionId | take 3",
	"Resources | mv-expand tags | take 10",
	"Resources | extend x = parse_json('{\"a\":[1,2]}') | project x.a[1]",
	"print 1/0, 1.0/0, todatetime('2024-02-30'), strcat('a', 1), toint('9999999999999999999')",
	"range x from 1 to 100000000 step 1 | count",
	"Resources | where name matches regex '(a+)+$' | take 1",
	"Resources | order by id | serialize | extend n = row_number() | top 3 by n",
	"Resources | project id | union (SecurityResources | project id) | count",
	"Resources | summarize make_list(id) by subscriptionId",
	"Resources | where properties contains 'https' | distinct type",
	"Resources | extend a = split(id, '/') | project a[2], array_length(a)",
	"Resources | where id has_any ('vaults', 'sites') | limit 4",
	"datatable(a:int)[1,2,3] | extend b = a * 9223372036854775807",
	"Resources | summarize arg_max(name, *) by type",
}

func (g *gen) kql() string {
	q := g.pick(fuzzQueries)
	if g.chance(0.4) {
		q = g.mutateString(q)
	}
	if g.chance(0.1) {
		q = strings.Repeat("(", 1+g.r.IntN(3000)) + "1" + strings.Repeat(")", g.r.IntN(3000))
		q = "print " + q
	}
	return q
}

// body makes up a body of the given kind, then often spoils it.
func (g *gen) body(kind string) []byte {
	e := g.e
	var doc any
	props := map[string]any{}
	switch kind {
	case "assessment":
		doc = map[string]any{"properties": map[string]any{"resourceDetails": map[string]any{"source": g.pick([]string{"Azure", "OnPremise", "x"})},
			"status": map[string]any{"code": g.pick([]string{"Healthy", "Unhealthy", "NotApplicable", "Fine"}), "cause": "fz"}, "displayName": "fz"}}
	case "resource", "container":
		if len(e.resourceDocs) > 0 && g.chance(0.7) {
			var m map[string]any
			_ = json.Unmarshal([]byte(g.pick(stringsOf(e.resourceDocs))), &m)
			doc = m
		} else {
			doc = map[string]any{"location": g.pick([]string{"westeurope", "eastus", "", "global"}), "tags": map[string]any{"env": "fuzz"}, "properties": map[string]any{"displayName": "fz"}}
		}
	case "exemption":
		props = map[string]any{"policyAssignmentId": cmpOr(g.assignment, g.pick(e.assignments)), "exemptionCategory": g.pick([]string{"Waiver", "Mitigated"}),
			"displayName": "fz", "description": "fuzz", "metadata": map[string]any{"ticket": "F-1"}, "expiresOn": g.expiry()}
		if g.spoil(0.3) {
			props["exemptionCategory"] = g.pick([]string{"waiver", "Other", ""})
		}
		if len(e.refIDs) > 0 && g.chance(0.5) {
			props["policyDefinitionReferenceIds"] = []string{g.pick(e.refIDs)}
		}
		if g.chance(0.3) {
			props["resourceSelectors"] = []any{map[string]any{"name": "s", "selectors": []any{map[string]any{"kind": g.pick([]string{"resourceLocation", "resourceType", "resourceWithoutLocation", "policyDefinitionReferenceId"}), "in": []string{"westeurope", "Microsoft.Storage/storageAccounts"}}}}}
		}
		if g.chance(0.2) {
			props["assignmentScopeValidation"] = g.pick([]string{"Default", "DoNotValidate", "x"})
		}
		doc = map[string]any{"properties": props}
	case "explain":
		doc = map[string]any{"resourceId": g.pick(e.resources)}
	case "policyAssignments":
		props = map[string]any{"policyDefinitionId": g.pick(append(e.definitions, e.sets...)), "displayName": "fz", "enforcementMode": g.pick([]string{"Default", "DoNotEnforce"}),
			"parameters": map[string]any{"effect": map[string]any{"value": g.pick([]string{"Audit", "Deny", "Disabled", "AuditIfNotExists"})}}}
		if g.chance(0.3) {
			props["notScopes"] = []string{g.pick(e.groups)}
		}
		doc = map[string]any{"properties": props, "location": "westeurope"}
	case "policyDefinitions":
		doc = map[string]any{"properties": map[string]any{"mode": g.pick([]string{"All", "Indexed", "Microsoft.KeyVault.Data"}), "displayName": "fz", "policyType": "Custom",
			"parameters": map[string]any{"effect": map[string]any{"type": "String", "defaultValue": "Audit", "allowedValues": []string{"Audit", "Deny", "Disabled"}}},
			"policyRule": map[string]any{
				"if":   g.pickAny([]any{map[string]any{"field": "type", "equals": "Microsoft.Storage/storageAccounts"}, map[string]any{"allOf": []any{map[string]any{"field": "location", "in": "[parameters('x')]"}, map[string]any{"value": "[concat(field('name'), 1)]", "like": "*a*"}}}, map[string]any{"field": "tags['env']", "exists": "false"}, map[string]any{"count": map[string]any{"field": "Microsoft.Network/networkSecurityGroups/securityRules[*]", "where": map[string]any{"field": "Microsoft.Network/networkSecurityGroups/securityRules[*].access", "equals": "Allow"}}, "greater": 0}}),
				"then": map[string]any{"effect": "[parameters('effect')]"}}}}
	case "policySetDefinitions":
		doc = map[string]any{"properties": map[string]any{"displayName": "fz", "policyDefinitions": []any{map[string]any{"policyDefinitionId": g.pick(e.definitions), "policyDefinitionReferenceId": "r1"}}}}
	case "states":
		if g.chance(0.5) {
			return nil
		}
		doc = map[string]any{}
	case "kql":
		req := map[string]any{"query": g.kql()}
		if g.chance(0.3) {
			req["subscriptions"] = []string{strings.TrimPrefix(g.pick(e.subs), "/subscriptions/"), g.oddSegment()}
		}
		if g.chance(0.2) {
			req["managementGroups"] = []string{"contoso", g.oddSegment()}
		}
		if g.chance(0.4) {
			req["options"] = map[string]any{"$top": g.pickAny([]any{1, 5, 100, 1000, 0, 1e12}), "$skip": g.pickAny([]any{0, 5, 1, -3}), "resultFormat": g.pick([]string{"objectArray", "table", "x"}),
				"$skipToken": g.param("$skipToken"), "authorizationScopeFilter": g.pick([]string{"AtScopeAndBelow", "AtScopeExact", "x"})}
		}
		if g.chance(0.2) {
			req["facets"] = []any{map[string]any{"expression": g.pick([]string{"location", "type", "properties.x", "(("}), "options": map[string]any{"$top": 3, "sortOrder": g.pick([]string{"asc", "desc", "x"})}}}
		}
		doc = req
	case "contact":
		var m map[string]any
		_ = json.Unmarshal([]byte(g.pick(stringsOf(e.contacts))), &m)
		doc = m
	case "automation":
		var m map[string]any
		_ = json.Unmarshal([]byte(g.pick(stringsOf(e.automations))), &m)
		doc = m
	case "request":
		props = map[string]any{"exemptionCategory": g.pick([]string{"Waiver", "Mitigated"}), "justification": "fuzz", "ticketRef": "F-1"}
		if g.chance(0.7) {
			props["assessmentKey"] = g.pick(e.assessmentKeys)
			props["resourceIds"] = []string{g.pick(e.resources)}
		} else {
			props["policyAssignmentId"] = g.pick(e.assignments)
		}
		props["expiresOn"] = g.expiry()
		doc = map[string]any{"properties": props}
	case "decision":
		doc = map[string]any{"reason": g.pick([]string{"ok", "", strings.Repeat("r", 5000)})}
	case "roleAssignment":
		doc = map[string]any{"properties": map[string]any{"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/" + g.pick([]string{"acdd72a7-3385-48ef-bd42-f606fba81ae7", "b24988ac-6180-42a0-ab88-20f7382dd24c", g.uuid()}),
			"principalId": g.pick([]string{"fuzz-reader", "fz-p1", g.uuid()}), "principalType": g.pick([]string{"User", "Group", "ServicePrincipal", ""})}}
	case "roleDefinition":
		doc = map[string]any{"properties": map[string]any{"roleName": "fz " + g.name(), "type": "CustomRole", "assignableScopes": []string{g.scope()},
			"permissions": []any{map[string]any{"actions": []string{g.pick([]string{"*/read", "Microsoft.Authorization/*", "Microsoft.Storage/*/write", "*", "a/b/c/d/e"})}, "notActions": []string{}}}}}
	case "principal":
		doc = map[string]any{"properties": map[string]any{"principalType": g.pick([]string{"User", "Group", "ServicePrincipal", "x"}), "displayName": "fz", "members": []string{"fuzz-reader", "fz-p2"}}}
	case "token":
		doc = map[string]any{"properties": map[string]any{"displayName": g.pick([]string{"fz", "", strings.Repeat("n", 200)}), "expiresOn": g.pick([]string{"", "2030-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "x"})}}
	case "import":
		var docs []any
		for range g.r.IntN(4) {
			docs = append(docs, map[string]any{"id": g.pick(e.groups) + "/providers/Microsoft.Storage/storageAccounts/" + g.name(), "location": "westeurope", "properties": map[string]any{"supportsHttpsTrafficOnly": g.chance(0.5)}})
		}
		if g.chance(0.3) {
			doc = map[string]any{"value": docs}
		} else {
			doc = docs
		}
	case "preview":
		doc = map[string]any{"exemptions": []any{map[string]any{"id": g.scope() + "/providers/Microsoft.Authorization/policyExemptions/" + g.name(),
			"properties": map[string]any{"policyAssignmentId": g.pick(e.assignments), "exemptionCategory": "Waiver"}}}, "deletions": []string{g.scope() + "/providers/Microsoft.Authorization/policyExemptions/fz-1"}}
	default:
		doc = map[string]any{"properties": map[string]any{}}
	}
	if g.spoil(0.4) {
		doc = g.mutateJSON(doc, 0)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		b = []byte(`{}`)
	}
	if g.spoil(0.15) {
		b = g.spoilBytes(b)
	}
	return b
}

func stringsOf(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// oddValues are JSON values that parsers trip on.
var oddValues = []json.RawMessage{
	json.RawMessage(`null`), json.RawMessage(`true`), json.RawMessage(`0`), json.RawMessage(`-1`), json.RawMessage(`1e400`),
	json.RawMessage(`-1e400`), json.RawMessage(`123456789012345678901234567890`), json.RawMessage(`0.1e-400`), json.RawMessage(`""`),
	json.RawMessage(`[]`), json.RawMessage(`{}`), json.RawMessage(`"\ud800"`), json.RawMessage(`"\u0000"`), json.RawMessage(`"[concat("`),
	json.RawMessage(`"[parameters('nope')]"`), json.RawMessage(`"[[escaped]"`), json.RawMessage(`"/"`), json.RawMessage(`"//"`),
	json.RawMessage(`"/subscriptions/x/resourceGroups/"`), json.RawMessage(`[null]`), json.RawMessage(`{"":null}`), json.RawMessage(`9007199254740993`),
	json.RawMessage(`"9999-12-31T23:59:59.9999999Z"`), json.RawMessage(`"0001-01-01T00:00:00Z"`), json.RawMessage(`-0`),
}

// mutateJSON changes some values, keys and shapes of a decoded document.
func (g *gen) mutateJSON(v any, depth int) any {
	if g.chance(0.08) || depth > 6 {
		switch g.r.IntN(5) {
		case 0:
			n := 1 + g.r.IntN(5000)
			return json.RawMessage(strings.Repeat("[", n) + strings.Repeat("]", n))
		case 1:
			return strings.Repeat(g.pick([]string{"a", "ü", "\u2028", "'"}), 1+g.r.IntN(20000))
		default:
			return oddValues[g.r.IntN(len(oddValues))]
		}
	}
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			switch {
			case g.chance(0.1):
				continue // drop the key
			case g.chance(0.05):
				k = strings.ToUpper(k)
			}
			out[k] = g.mutateJSON(val, depth+1)
		}
		if g.chance(0.1) {
			out[g.pick([]string{"id", "name", "type", "etag", "properties", "x", "$schema", ""})] = oddValues[g.r.IntN(len(oddValues))]
		}
		return out
	case []any:
		var out []any
		for _, val := range x {
			out = append(out, g.mutateJSON(val, depth+1))
		}
		if g.chance(0.1) && len(out) > 0 {
			for range g.r.IntN(200) {
				out = append(out, out[0])
			}
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = g.mutateJSON(s, depth+1)
		}
		return out
	case string:
		if g.chance(0.2) {
			return g.mutateString(x)
		}
	}
	return v
}

// spoilBytes breaks a body below the JSON level.
func (g *gen) spoilBytes(b []byte) []byte {
	switch g.r.IntN(7) {
	case 0:
		return b[:g.r.IntN(len(b)+1)]
	case 1:
		return []byte(g.mutateString(string(b)))
	case 2:
		return append([]byte("\xef\xbb\xbf"), b...)
	case 3:
		return append(b, b...)
	case 4:
		return []byte(g.pick([]string{"", "null", "[]", "{}", "\"x\"", "1", "{\"properties\":null}", "{\"properties\":[]}", "{\"properties\":\"x\"}", "\xff\xfe", "{" + strings.Repeat(`"a":{`, 3000)}))
	case 5:
		return bytes.ReplaceAll(b, []byte(`"`), []byte(`'`))
	}
	return append(append([]byte(strings.Repeat(" ", g.r.IntN(10000))), b...), "\n\t"...)
}

// Regression: checkAnswer itself fails the answers it must fail.
func TestRequestFuzzCheck(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://x/subscriptions", nil)
	portal, _ := http.NewRequest("GET", "http://x/exemptions", nil)
	answer := func(status int, ct, id string) *http.Response {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if id != "" {
			h.Set("x-ms-request-id", id)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	for _, tt := range []struct {
		req    *http.Request
		resp   *http.Response
		body   string
		wantOK bool
	}{
		{req, answer(400, "application/json; charset=utf-8", "1"), `{"error":{"code":"X","message":"m"}}`, true},
		{req, answer(200, "application/json", "1"), `{"value":[]}`, true},
		{portal, answer(404, "text/html", "1"), `<p>no</p>`, true},
		{req, answer(500, "application/json", "1"), `{"error":{"code":"X","message":"m"}}`, false},
		{req, answer(503, "application/json", "1"), `{"error":{"code":"X","message":"m"}}`, false},
		{req, answer(404, "text/plain", "1"), `404 page not found`, false},
		{req, answer(400, "application/json", "1"), `{"error":{"code":"","message":"m"}}`, false},
		{req, answer(400, "application/json", "1"), `{"error":{"code":"X"}}`, false},
		{req, answer(400, "application/json", "1"), `{"code":"X","message":"m"}`, false},
		{req, answer(200, "application/json", "1"), `{"value":[`, false},
		{req, answer(400, "text/plain", ""), `400 Bad Request`, false},
	} {
		msg := checkAnswer(tt.req, tt.resp, []byte(tt.body))
		if (msg == "") != tt.wantOK {
			t.Errorf("%s %d %q: %q", tt.req.URL.Path, tt.resp.StatusCode, tt.body, msg)
		}
	}
	if !isAPIPath("/subscriptions") || !isAPIPath("//subscriptions") || !isAPIPath("/auth/login") || isAPIPath("/") || isAPIPath("/exemptions/view") || isAPIPath("/healthz") || isAPIPath(requests.LinkPath) {
		t.Error("isAPIPath does not split paths as api.Server.serve does")
	}
	if got := sendable("/a b/%zz/%41/ü#?", false); got != "/a%20b/%25zz/%41/%C3%BC%23%3F" {
		t.Errorf("sendable: %q", got)
	}
	if !utf8.ValidString(headerValue("a\x00b\nc")) || headerValue("a\x00b\nc") != "abc" {
		t.Errorf("headerValue: %q", headerValue("a\x00b\nc"))
	}
}

// Findings of the request fuzzer that take more than one request.
func TestRequestFuzzRegressions(t *testing.T) {
	s := startServer(t, "--demo")
	rg := "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d/resourceGroups/rg-web-prod-01"

	// A stored number JSON allows but float64 does not hold (1e400, a
	// 30-digit integer) made every later PATCH of the resource a 500; a
	// PATCH keeps such numbers as written.
	id := rg + "/providers/Microsoft.Storage/storageAccounts/stfuzznumbers"
	if code, _, b := s.raw(t, http.MethodPut, id+"?api-version=2023-01-01", `{"location":"westeurope","properties":{"huge":-1e400,"id":123456789012345678901234567890}}`); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, b)
	}
	code, _, b := s.raw(t, http.MethodPatch, id+"?api-version=2023-01-01", `{"tags":{"env":"fuzz"},"properties":{"tiny":1e-400}}`)
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"huge":-1e400`)) || !bytes.Contains(b, []byte(`"id":123456789012345678901234567890`)) ||
		!bytes.Contains(b, []byte(`"tiny":1e-400`)) || !bytes.Contains(b, []byte(`"env":"fuzz"`)) {
		t.Errorf("PATCH: %d %s", code, b)
	}
	// Moving a subscription under a management group rewrites its
	// document: the same numbers made it a 500.
	sub := "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	if code, _, b := s.raw(t, http.MethodPut, sub+"?api-version=2022-12-01", `{"displayName":"Contoso Production","properties":{"n":-1e400,"id":123456789012345678901234567890}}`); code != http.StatusOK {
		t.Fatalf("PUT the subscription: %d %s", code, b)
	}
	if code, _, b := s.raw(t, http.MethodPut, "/providers/Microsoft.Management/managementGroups/contoso-platform/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d?api-version=2021-04-01", ""); code != http.StatusOK {
		t.Errorf("move the subscription: %d %s", code, b)
	}
	if b := s.get(t, sub+"?api-version=2022-12-01"); !bytes.Contains(b, []byte(`"n":-1e400`)) || !bytes.Contains(b, []byte(`"id":123456789012345678901234567890`)) {
		t.Errorf("the moved subscription: %s", b)
	}

	// A document nested deeper than Resource Graph's tables took (512) was
	// acknowledged and never appeared in Resource Graph.
	id = rg + "/providers/Microsoft.Storage/storageAccounts/stfuzzdeep"
	deep := strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600)
	if code, _, b := s.raw(t, http.MethodPut, id+"?api-version=2023-01-01", `{"location":"westeurope","properties":{"deep":`+deep+`}}`); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, b)
	}
	code, _, b = s.raw(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
		`{"query":"Resources | where name == 'stfuzzdeep' | project id"}`)
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"count":1`)) {
		t.Errorf("the deep resource in Resource Graph: %d %s", code, b)
	}
	if errs := serverErrors(s.err.String(), 5); errs != "" {
		t.Errorf("the server logged errors:\n%s", errs)
	}
}
