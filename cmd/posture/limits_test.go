package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/posture/posture/api"
	"github.com/posture/posture/client"
)

// armThrottle checks a 429 in ARM's shape and returns its Retry-After.
func armThrottle(t *testing.T, code int, hdr http.Header, body []byte, wantCode string) int {
	t.Helper()
	if got := rbacErrorOf(body); code != http.StatusTooManyRequests || got.Code != wantCode || got.Message == "" {
		t.Fatalf("%d %s, want 429 %s in ARM's envelope", code, body, wantCode)
	}
	secs, err := strconv.Atoi(hdr.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds", hdr.Get("Retry-After"))
	}
	return secs
}

func headerInt(t *testing.T, hdr http.Header, name string) int {
	t.Helper()
	n, err := strconv.Atoi(hdr.Get(name))
	if err != nil {
		t.Fatalf("header %s = %q, want a number (headers %v)", name, hdr.Get(name), hdr)
	}
	return n
}

// TestRateLimitServe runs `posture serve` with small buckets that do not
// refill within the test: the counts go down per principal and per
// operation type, and an empty bucket answers 429 in ARM's shape.
func TestRateLimitServe(t *testing.T) {
	s := startServer(t, "--rate-limit-reads=4,0.01", "--rate-limit-writes=20,0.01", "--rate-limit-deletes=1,0.01")
	const reads = "x-ms-ratelimit-remaining-tenant-reads"
	for want := 3; want >= 0; want-- {
		code, hdr, b := s.raw(t, http.MethodGet, "/subscriptions?api-version=2022-12-01", "")
		if code != http.StatusOK || headerInt(t, hdr, reads) != want {
			t.Fatalf("read: %d %s=%q %s", code, reads, hdr.Get(reads), b)
		}
	}
	code, hdr, b := s.raw(t, http.MethodGet, "/subscriptions?api-version=2022-12-01", "")
	if secs := armThrottle(t, code, hdr, b, "TenantRequestsThrottled"); secs != 100 { // one token at 0.01 a second
		t.Errorf("Retry-After %d, want 100", secs)
	}
	// A Resource Graph query is a POST that Azure authorizes as a read: it
	// draws on the reads, empty now.
	code, hdr, b = s.raw(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", `{"query":"resources | limit 1"}`)
	armThrottle(t, code, hdr, b, "TenantRequestsThrottled")
	// Writes are their own bucket: creating a principal and its token
	// (two tenant writes) goes on.
	robot := rbacNewCaller(t, s, "robot-limits", "Robot", "ServicePrincipal")
	code, hdr, b = s.raw(t, http.MethodPut, "/providers/Posture.Identity/principals/robot-2?api-version="+rbacIdentityVersion, `{"properties":{"principalType":"User","displayName":"R2"}}`)
	if code != http.StatusCreated || headerInt(t, hdr, "x-ms-ratelimit-remaining-tenant-writes") != 17 {
		t.Errorf("third write: %d %v %s", code, hdr, b)
	}
	// Another principal has its own buckets (its read is refused 403 for
	// want of a role, after it is counted).
	code, hdr, b = s.raw(t, http.MethodGet, "/subscriptions?api-version=2022-12-01", "", "Authorization", "Bearer "+robot.token)
	if code == http.StatusTooManyRequests || headerInt(t, hdr, reads) != 3 {
		t.Errorf("the other principal: %d %v %s", code, hdr, b)
	}
	// Deletes: one token.
	code, hdr, b = s.raw(t, http.MethodDelete, "/providers/Posture.Identity/principals/robot-2?api-version="+rbacIdentityVersion, "")
	if code != http.StatusOK || headerInt(t, hdr, "x-ms-ratelimit-remaining-tenant-deletes") != 0 {
		t.Errorf("delete: %d %v %s", code, hdr, b)
	}
	code, hdr, b = s.raw(t, http.MethodDelete, "/providers/Posture.Identity/principals/robot-limits?api-version="+rbacIdentityVersion, "")
	armThrottle(t, code, hdr, b, "TenantRequestsThrottled")
	if !strings.Contains(string(b), "Number of 'delete' requests for tenant actor") {
		t.Errorf("message: %s", b)
	}
}

// statusLog records the status of every try the Azure SDK makes.
type statusLog struct {
	mu    sync.Mutex
	codes []int
}

func (l *statusLog) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if resp != nil {
		l.mu.Lock()
		l.codes = append(l.codes, resp.StatusCode)
		l.mu.Unlock()
	}
	return resp, err
}

// The unchanged Azure SDK for Go retries a 429 after its Retry-After and
// succeeds: posture's throttling is the one Azure clients are built for.
func TestRateLimitAzureSDKRetries(t *testing.T) {
	s := startServer(t, "--rate-limit-reads=1,1")
	ctx := context.Background()
	sub := "00000000-0000-0000-0000-0000000000a1"
	if _, err := client.New(s.url, s.token).Import(ctx, []json.RawMessage{json.RawMessage(`{"id":"/subscriptions/` + sub + `","displayName":"SDK"}`)}); err != nil {
		t.Fatal(err)
	}
	log := &statusLog{}
	opts := sdkOptions(s.url)
	opts.Retry = policy.RetryOptions{MaxRetries: 3, MaxRetryDelay: 10 * time.Second}
	opts.PerRetryPolicies = []policy.Policy{log}
	groups, err := armresources.NewResourceGroupsClient(sub, tokenCredential(s.token), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "rg-sdk", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := groups.Get(ctx, "rg-sdk", nil); err != nil { // the one read token
		t.Fatal(err)
	}
	log.codes = nil
	start := time.Now()
	rg, err := groups.Get(ctx, "rg-sdk", nil)
	if err != nil || *rg.Name != "rg-sdk" {
		t.Fatalf("Get after the bucket is empty: %v", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("the SDK got its answer after %v, before the Retry-After of 1 s", took)
	}
	if fmt.Sprint(log.codes) != "[429 200]" {
		t.Errorf("tries: %v, want [429 200]", log.codes)
	}
}

// The portal's pages call the API as the signed-in user, so they count
// against the user's buckets; a page whose call is throttled is an error
// page with status 429, the API's message and Retry-After, not a broken
// page.
func TestRateLimitPortalPage(t *testing.T) {
	s := startServer(t, "--demo", "--rate-limit-reads=60,0.01")
	b := signIn(t, s, s.token)
	for range 60 {
		code, hdr, page := b.get("/")
		if code == http.StatusOK {
			continue
		}
		if code != http.StatusTooManyRequests || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
			t.Fatalf("throttled overview: %d %s\n%.2000s", code, hdr.Get("Content-Type"), page)
		}
		secs := headerInt(t, hdr, "Retry-After")
		for _, want := range []string{"RequestsThrottled", "Please try again after", fmt.Sprintf("Try again in %d seconds", secs), "</html>"} {
			if !strings.Contains(page, want) {
				t.Errorf("the 429 page does not say %q:\n%.3000s", want, page)
			}
		}
		return
	}
	t.Fatal("60 overviews on a bucket of 60 reads were never throttled")
}

func TestRequestSizeLimits(t *testing.T) {
	s := startServer(t, "--max-header-bytes=8192")
	rg := "/subscriptions/s1/resourcegroups/big?api-version=2021-04-01"
	huge := `{"location":"x","tags":{"a":"` + strings.Repeat("a", api.MaxBody) + `"}}`
	// Declared length over the limit: refused before it is read.
	code, _, b := s.raw(t, http.MethodPut, rg, huge)
	if got := rbacErrorOf(b); code != http.StatusRequestEntityTooLarge || got.Code != "RequestContentTooLarge" {
		t.Errorf("declared 4 MiB+: %d %s", code, b)
	}
	// Chunked, no declared length: refused once it passes the limit.
	req, _ := http.NewRequest(http.MethodPut, s.url+rg, io.MultiReader(strings.NewReader(huge)))
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := rbacErrorOf(body); resp.StatusCode != http.StatusRequestEntityTooLarge || got.Code != "RequestContentTooLarge" || req.ContentLength != 0 {
		t.Errorf("chunked 4 MiB+: %d %s (sent with length %d)", resp.StatusCode, body, req.ContentLength)
	}
	// Imports have their own 256 MiB limit, checked on the declared length
	// before a byte of the body is read.
	c := dialServer(t, s)
	fmt.Fprintf(c, "POST %s?api-version=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		api.ImportPath, client.ImportAPIVersion, s.token, api.MaxImportBody+1)
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if got := rbacErrorOf(body); resp.StatusCode != http.StatusRequestEntityTooLarge || got.Code != "RequestContentTooLarge" || !strings.Contains(got.Message, "256 MB") {
		t.Errorf("import over 256 MiB: %d %s", resp.StatusCode, body)
	}
	// A 5 MiB import is not refused by the ordinary limit (documents
	// without an id, so the import reads them all and writes nothing).
	var doc strings.Builder
	doc.WriteString(`{"value":[`)
	for i := 0; doc.Len() < api.MaxBody+(1<<20); i++ {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"name":"big-%d","displayName":"%s"}`, i, strings.Repeat("d", 1000))
	}
	doc.WriteString(`]}`)
	code, _, b = s.raw(t, http.MethodPost, api.ImportPath+"?api-version="+client.ImportAPIVersion, doc.String())
	var sum struct{ Read int }
	if err := json.Unmarshal(b, &sum); code != http.StatusOK || err != nil || sum.Read < 5000 {
		t.Errorf("a 5 MiB import: %d %.300s", code, b)
	}
	// Headers over --max-header-bytes: 431 in the ARM envelope; just
	// under it they pass. Far over it net/http stops reading (8 KiB +
	// 64 KiB, api.HeaderHardLimit) and answers 431 itself.
	header := func(padding int) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/subscriptions?api-version=2022-12-01", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("X-Padding", strings.Repeat("p", padding))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("x-ms-request-id"), string(b)
	}
	if code, id, b := header(16 << 10); code != http.StatusRequestHeaderFieldsTooLarge || id == "" || armCode([]byte(b)) != "RequestHeaderFieldsTooLarge" {
		t.Errorf("16 KiB header over an 8 KiB limit: %d, request id %q, %.300s", code, id, b)
	}
	if code, _, b := header(7 << 10); code != http.StatusOK {
		t.Errorf("7 KiB header under an 8 KiB limit: %d %.300s", code, b)
	}
	if code, _, _ := header(80 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("80 KiB header, over net/http's cut: %d", code)
	}
	// The portal's forms: 1 MiB, then 413 as a page.
	br := signIn(t, s, s.token)
	code, _, page := br.post("/exempt", url.Values{"justification": {strings.Repeat("j", 2<<20)}})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "RequestContentTooLarge") {
		t.Errorf("a 2 MiB form: %d %.1000s", code, page)
	}
}

func dialServer(t *testing.T, s *server) net.Conn {
	t.Helper()
	u, _ := url.Parse(s.url)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// drip writes b one byte every interval until it is written, the
// connection fails or stop is closed.
func drip(c net.Conn, b []byte, interval time.Duration, stop <-chan struct{}) {
	for i := range b {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		if _, err := c.Write(b[i : i+1]); err != nil {
			return
		}
	}
}

// untilClosed reads c until the server closes it, and returns how long
// that took from start and what the server sent. It fails the test when
// the connection is still open after limit.
func untilClosed(t *testing.T, c net.Conn, start time.Time, limit time.Duration) (time.Duration, string) {
	t.Helper()
	c.SetReadDeadline(start.Add(limit))
	got, err := io.ReadAll(c)
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection is still open after %v (got %q)", took, got)
	}
	return took, string(got)
}

// TestSlowClients: clients that drip their headers or body, or open
// connections and send nothing, are cut at the configured times.
func TestSlowClients(t *testing.T) {
	const (
		header = 400 * time.Millisecond
		body   = 700 * time.Millisecond
		idle   = 500 * time.Millisecond
		slack  = 3 * time.Second // a loaded machine; the drips go on for a minute
	)
	s := startServer(t, "--read-header-timeout="+header.String(), "--body-timeout="+body.String(), "--idle-timeout="+idle.String(), "--import-min-rate=500")
	minute := strings.Repeat("x", 600) // 60 s of drip at 100 ms a byte

	check := func(t *testing.T, name string, took, want time.Duration) {
		t.Helper()
		if took < want-50*time.Millisecond || took > want+slack {
			t.Errorf("%s: closed after %v, want about %v", name, took, want)
		}
	}
	t.Run("connection that sends nothing", func(t *testing.T) {
		start := time.Now()
		took, _ := untilClosed(t, dialServer(t, s), start, header+slack)
		check(t, "idle new connection", took, header)
	})
	t.Run("headers one byte at a time", func(t *testing.T) {
		c, stop := dialServer(t, s), make(chan struct{})
		defer close(stop)
		start := time.Now()
		go drip(c, []byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-"+minute), 100*time.Millisecond, stop)
		took, got := untilClosed(t, c, start, header+slack)
		check(t, "header drip", took, header)
		// Go's server closes, with a 400 when it had bytes of the request.
		if got != "" && !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Errorf("answered a request whose headers never ended: %q", got)
		}
	})
	t.Run("kept alive and idle", func(t *testing.T) {
		c := dialServer(t, s)
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		start := time.Now()
		c.SetReadDeadline(start.Add(idle + slack))
		rest, err := io.ReadAll(br)
		took := time.Since(start)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("still open after %v", took)
		}
		check(t, "idle keep-alive", took, idle)
		if len(rest) > 0 {
			t.Errorf("unexpected bytes: %q", rest)
		}
	})
	for _, tc := range []struct {
		name, method, path string
		token              bool
		wantStatus         string
	}{
		// Authenticated: the handler reads the body and gives up.
		{"body one byte at a time", http.MethodPut, "/subscriptions/s1/resourcegroups/slow?api-version=2021-04-01", true, "400 Bad Request"},
		// Refused before its body is read: Go's server reads what is left
		// before it answers, under the same deadline.
		{"body of a refused request", http.MethodPut, "/subscriptions/s1/resourcegroups/slow?api-version=2021-04-01", false, "401 Unauthorized"},
		// An import has the rate rule: 500 bytes a second after the first
		// --body-timeout; a drip of 10 a second is cut about when a plain
		// body would be.
		{"import body one byte at a time", http.MethodPost, api.ImportPath + "?api-version=" + client.ImportAPIVersion, true, "400 Bad Request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, stop := dialServer(t, s), make(chan struct{})
			defer close(stop)
			auth := ""
			if tc.token {
				auth = "Authorization: Bearer " + s.token + "\r\n"
			}
			start := time.Now()
			// A JSON array that is all blanks after its "[": nothing in it
			// is wrong until it ends.
			doc := "[" + strings.Repeat(" ", len(minute)-1)
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", tc.method, tc.path, auth, len(doc))
			go drip(c, []byte(doc), 100*time.Millisecond, stop)
			took, got := untilClosed(t, c, start, body+slack)
			check(t, tc.name, took, body)
			if !strings.HasPrefix(got, "HTTP/1.1 "+tc.wantStatus) {
				t.Errorf("answer %.300q, want %s", got, tc.wantStatus)
			}
			if tc.token && !strings.Contains(got, `"RequestTimeout"`) {
				t.Errorf("answer %.300q, want code RequestTimeout", got)
			}
		})
	}
	t.Run("import that keeps arriving outlives the body timeout", func(t *testing.T) {
		// 6,000 bytes in 12 pieces, one every 150 ms (3,300 bytes a
		// second, over six times the 500 minimum, so a loaded machine's
		// late sleeps do not drop it below): 1.8 s, far past
		// --body-timeout.
		doc := `{"value":[{"id":"/subscriptions/streamed","displayName":"` + strings.Repeat("s", 6000-60) + `"}]}`
		c := dialServer(t, s)
		fmt.Fprintf(c, "POST %s?api-version=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			api.ImportPath, client.ImportAPIVersion, s.token, len(doc))
		start := time.Now()
		for i := 0; i < len(doc); i += 500 {
			time.Sleep(150 * time.Millisecond)
			if _, err := io.WriteString(c, doc[i:min(i+500, len(doc))]); err != nil {
				t.Fatalf("writing after %v: %v", time.Since(start), err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || time.Since(start) < 2*body {
			t.Errorf("streamed import: %d after %v: %s", resp.StatusCode, time.Since(start), b)
		}
		if code, _, b := s.raw(t, http.MethodGet, "/subscriptions/streamed?api-version=2022-12-01", ""); code != http.StatusOK {
			t.Errorf("the streamed import is not there: %d %s", code, b)
		}
	})
}

// TestConnectionCap: one address may hold --max-conns-per-address
// connections; the next is closed when accepted, and a slot frees when
// one closes.
func TestConnectionCap(t *testing.T) {
	s := startServer(t, "--max-conns-per-address=3", "--read-header-timeout=1m")
	var held []net.Conn
	for range 3 {
		held = append(held, dialServer(t, s))
	}
	// The three are served: each answers a request.
	for i, c := range held {
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %v %v", i, resp, err)
		}
		c.SetReadDeadline(time.Time{})
	}
	fourth := dialServer(t, s)
	fmt.Fprint(fourth, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, got := untilClosed(t, fourth, time.Now(), 10*time.Second); got != "" {
		t.Errorf("a fourth connection was served: %q", got)
	}
	held[0].Close()
	// The server notices the close and frees the slot.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialServer(t, s)
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after one of the three closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The probe's slot frees when the server has seen it close, which may
	// be after the client read its answer: the metrics request may be the
	// refused fourth for a moment.
	var metrics []byte
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.url + "/metrics")
		if err == nil {
			metrics, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /metrics: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^posture_http_connections_refused_total (\d+)$`).FindStringSubmatch(string(metrics))
	if m == nil || m[1] == "0" {
		t.Errorf("refused connections metric: %v", m)
	}
}

func TestLimitFlags(t *testing.T) {
	var f LimitFlags
	f.RateLimit = "arm"
	if l, ok := f.rateLimits(); !ok || l != api.ARMRateLimits {
		t.Errorf("arm: %+v %v", l, ok)
	}
	f.RateLimit = "off"
	if _, ok := f.rateLimits(); ok {
		t.Error("off limits something")
	}
	if err := f.RateLimitWrites.UnmarshalText([]byte("5,1")); err != nil {
		t.Fatal(err)
	}
	if l, ok := f.rateLimits(); !ok || l.Writes != (api.Bucket{Size: 5, Refill: 1}) || l.Reads.Size != 0 {
		t.Errorf("off with writes 5,1: %+v %v", l, ok)
	}
	f.RateLimit = "on"
	if l, _ := f.rateLimits(); l.Reads != api.DefaultRateLimits.Reads || l.Writes.Size != 5 {
		t.Errorf("on with writes 5,1: %+v", l)
	}
	if err := f.RateLimitReads.UnmarshalText([]byte("5")); err == nil {
		t.Error("a bucket without a refill rate is accepted")
	}
	// Through the command line: a bad bucket is a usage error (exit 2),
	// and so is a header timeout of 0.
	for _, args := range [][]string{{"--rate-limit-reads=abc"}, {"--read-header-timeout=0s"}, {"--rate-limit=fast"}} {
		errOut := &safeBuffer{}
		code := Main(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...), &IO{Out: &safeBuffer{}, Err: errOut})
		if code != 2 {
			t.Errorf("serve %v: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}

// armCode returns the code of an ARM error envelope, "" when b is none.
func armCode(b []byte) string {
	var e struct{ Error struct{ Code string } }
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	return e.Error.Code
}
