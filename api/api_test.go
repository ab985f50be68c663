package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/auth"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/sqlite"
)

// env is a server over a real SQLite store, with a bootstrap token.
type env struct {
	t     *testing.T
	url   string
	token string
	store posture.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	res := &estate.Service{Store: store}
	if _, err := res.EnsureTenant(ctx, "tenant-1"); err != nil {
		t.Fatal(err)
	}
	authn := &auth.Service{Store: store}
	token, err := authn.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.Load(ctx, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Resources: res, Auth: authn, Authz: ids.Authz, Identity: ids, Tokens: authn,
		ReadyChecks: []api.ReadyCheck{{Name: "store", Check: store.Ping}},
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil))}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, url: hs.URL, token: token, store: store}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errorCode returns the code of an ARM error envelope.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("not an ARM error envelope (status %d): %s", r.status, r.body)
	}
	return env.Error.Code
}

func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-ms-request-id") == "" {
		e.t.Errorf("%s %s: no x-ms-request-id", method, path)
	}
	return response{resp.StatusCode, resp.Header, b}
}

const rmv = "?api-version=2021-04-01"

// seed creates subscription s1 (by import) and resource group rg1.
func (e *env) seed() {
	e.t.Helper()
	r := e.do("POST", "/providers/Posture.Estate/import?api-version="+api.PostureAPIVersion, `{"value":[{"id":"/subscriptions/s1","displayName":"One"}]}`)
	if r.status != 200 {
		e.t.Fatalf("import: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/subscriptions/s1/resourcegroups/rg1"+rmv, `{"location":"westeurope","tags":{"env":"prod"}}`); r.status != 201 {
		e.t.Fatalf("create rg1: %d %s", r.status, r.body)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	if resp.Header.Get("x-ms-request-id") == "" {
		t.Error("healthz without x-ms-request-id")
	}
	e.do("GET", "/subscriptions"+rmv, nil)
	resp, err = http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `posture_http_requests_total{code="200",method="GET",route="microsoft.resources/subscriptions[]"} 1`) {
		t.Errorf("metrics lack the request counter:\n%s", b)
	}
	e.store.Close()
	resp, _ = http.Get(e.url + "/healthz")
	if resp.StatusCode != 200 {
		t.Errorf("healthz (liveness) with a closed store: %d", resp.StatusCode)
	}
	resp, _ = http.Get(e.url + "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with a closed store: %d", resp.StatusCode)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "Bearer nope", "Basic " + e.token, "Bearer " + e.token + "x"} {
		req, _ := http.NewRequest("GET", e.url+"/subscriptions"+rmv, nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		r := response{resp.StatusCode, resp.Header, b}
		if r.status != 401 || r.errorCode(t) != "AuthenticationFailed" {
			t.Errorf("Authorization %q: %d %s", tok, r.status, b)
		}
		if strings.Contains(string(b), e.token) {
			t.Error("the token is echoed in the error")
		}
	}
	// An expired token is refused with its own code.
	authn := &auth.Service{Store: e.store, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	var pid string
	e.store.Read(context.Background(), func(tx posture.Tx) error {
		tok, _ := tx.TokenByHash(auth.Hash(e.token))
		pid = tok.PrincipalID
		return nil
	})
	secret, _, err := authn.CreateToken(context.Background(), pid, "", "short", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e2 := *e
	e2.token = secret
	if r := e2.do("GET", "/subscriptions"+rmv, nil); r.status != 401 || r.errorCode(t) != "ExpiredAuthenticationToken" {
		t.Errorf("expired token: %d %s", r.status, r.body)
	}
}

func TestAPIVersion(t *testing.T) {
	e := newEnv(t)
	e.seed()
	tests := []struct{ path, code string }{
		{"/subscriptions", "MissingApiVersionParameter"},
		{"/subscriptions?api-version=", "MissingApiVersionParameter"},
		{"/subscriptions?api-version=2099-01-01", "InvalidApiVersionParameter"},
		{"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Foo/bars/x?api-version=not-a-date", "InvalidApiVersionParameter"},
		{"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Foo/bars/x?api-version=2099-01-01-preview", "InvalidApiVersionParameter"},
		{"/providers/Posture.Estate/import?api-version=2021-04-01", "InvalidApiVersionParameter"},
	}
	for _, tt := range tests {
		method := "GET"
		if strings.Contains(tt.path, "import") {
			method = "POST"
		}
		r := e.do(method, tt.path, nil)
		if r.status != 400 || r.errorCode(t) != tt.code {
			t.Errorf("%s: %d %s, want 400 %s", tt.path, r.status, r.body, tt.code)
		}
	}
	// Any real date works for a provider type posture stores as documents.
	if r := e.do("GET", "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Foo/bars/x?api-version=2023-05-01-preview", nil); r.status != 404 {
		t.Errorf("generic api-version: %d %s", r.status, r.body)
	}
}

func TestResourceLifecycle(t *testing.T) {
	e := newEnv(t)
	e.seed()
	path := "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1?api-version=2023-01-01"
	r := e.do("PUT", path, `{"location":"West Europe","kind":"StorageV2","properties":{"supportsHttpsTrafficOnly":true}}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	doc := r.json(t)
	if doc["id"] != "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1" || doc["name"] != "sa1" || doc["type"] != "Microsoft.Storage/storageAccounts" {
		t.Errorf("created document: %s", r.body)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Error("no ETag")
	}
	if r := e.do("PUT", path, `{"location":"West Europe","properties":{"supportsHttpsTrafficOnly":false}}`); r.status != 200 {
		t.Errorf("update: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", path, `{"location":"x"}`, "If-Match", etag); r.status != 412 || r.errorCode(t) != "PreconditionFailed" {
		t.Errorf("stale If-Match: %d %s", r.status, r.body)
	}
	r = e.do("GET", strings.ToUpper(path[:len(path)-len("?api-version=2023-01-01")])+"?api-version=2023-01-01", nil)
	if r.status != 200 || r.json(t)["properties"].(map[string]any)["supportsHttpsTrafficOnly"] != false {
		t.Errorf("get (upper-case path): %d %s", r.status, r.body)
	}
	r = e.do("PATCH", path, `{"tags":{"team":"a"},"properties":{"minimumTlsVersion":"TLS1_2"}}`)
	props := r.json(t)["properties"].(map[string]any)
	if r.status != 200 || props["minimumTlsVersion"] != "TLS1_2" || props["supportsHttpsTrafficOnly"] != false {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", path, nil); r.status != 200 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", path, nil); r.status != 204 {
		t.Errorf("delete again: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, nil); r.status != 404 || r.errorCode(t) != "ResourceNotFound" {
		t.Errorf("get deleted: %d %s", r.status, r.body)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.seed()
	base := "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/"
	huge := `{"location":"x","properties":{"blob":"` + strings.Repeat("a", api.MaxBody) + `"}}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "PUT", base + "a1", `{"location":`, 400, "InvalidRequestContent"},
		{"not an object", "PUT", base + "a2", `[1]`, 400, "InvalidRequestContent"},
		{"empty body", "PUT", base + "a3", ``, 400, "InvalidRequestContent"},
		{"body over 4 MiB", "PUT", base + "a4", huge, 413, "RequestContentTooLarge"},
		{"type mismatch", "PUT", base + "a5", `{"type":"Microsoft.Compute/disks"}`, 400, "InvalidResourceType"},
		{"id of another resource", "PUT", base + "a6", `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/zz"}`, 400, "LinkedInvalidPropertyId"},
		{"id that does not parse", "PUT", "/subscriptions/s1/resourceGroups/rg1/foo/bar", `{}`, 400, "InvalidResourceId"},
		{"tags not strings", "PUT", base + "a7", `{"tags":{"a":1}}`, 400, "InvalidTag"},
		{"missing resource group", "PUT", "/subscriptions/s1/resourceGroups/nope/providers/Microsoft.Storage/storageAccounts/a8", `{}`, 404, "ResourceGroupNotFound"},
		{"missing parent", "PUT", "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v/subnets/s", `{}`, 404, "ParentResourceNotFound"},
		{"resource group without location", "PUT", "/subscriptions/s1/resourceGroups/rg2", `{}`, 400, "LocationRequired"},
		{"unknown tenant type", "GET", "/providers/Microsoft.Foo/bars/x", ``, 404, "InvalidResourceType"},
		{"bad filter", "GET", "/subscriptions/s1/resources", ``, 400, "InvalidFilterInQueryString"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path + "?api-version=2023-01-01"
			if strings.HasSuffix(tt.path, "/rg2") {
				path = tt.path + rmv
			}
			if tt.name == "bad filter" {
				path = tt.path + rmv + "&$filter=substringof('a',name)"
			}
			r := e.do(tt.method, path, tt.body)
			if r.status != tt.status || r.errorCode(t) != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	// Nothing of the above was written.
	r := e.do("GET", "/subscriptions/s1/resources"+rmv, nil)
	if v := r.json(t)["value"].([]any); len(v) != 0 {
		t.Errorf("refused writes left %d resources: %s", len(v), r.body)
	}
	if r := e.do("GET", "/subscriptions/s1/resourceGroups/rg2"+rmv, nil); r.status != 404 {
		t.Errorf("refused resource group exists: %d", r.status)
	}
}

func TestListPagingAndFilters(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var docs []string
	for i := range 23 {
		typ := "Microsoft.Compute/disks"
		if i%3 == 0 {
			typ = "Microsoft.KeyVault/vaults"
		}
		docs = append(docs, fmt.Sprintf(`{"id":"/subscriptions/s1/resourceGroups/rg1/providers/%s/r%02d","location":"westeurope","tags":{"n":"%d"}}`, typ, i, i%2))
	}
	r := e.do("POST", "/providers/Posture.Estate/import?api-version="+api.PostureAPIVersion, "["+strings.Join(docs, ",")+"]")
	if r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	next := "/subscriptions/s1/resources" + rmv + "&$top=5"
	var names []string
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := e.do("GET", next, nil)
		if r.status != 200 {
			t.Fatalf("page: %d %s", r.status, r.body)
		}
		var page struct {
			Value []struct {
				Name string `json:"name"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		json.Unmarshal(r.body, &page)
		if len(page.Value) > 5 {
			t.Errorf("page of %d with $top=5", len(page.Value))
		}
		for _, v := range page.Value {
			names = append(names, v.Name)
		}
		next = strings.TrimPrefix(page.NextLink, e.url)
		if page.NextLink != "" && !strings.HasPrefix(page.NextLink, "http://") {
			t.Errorf("nextLink is not absolute: %s", page.NextLink)
		}
	}
	if len(names) != 23 {
		t.Errorf("paged through %d resources, want 23: %v", len(names), names)
	}
	r = e.do("GET", "/subscriptions/s1/resourceGroups/rg1/resources"+rmv+"&$filter="+urlEscape("resourceType eq 'Microsoft.KeyVault/vaults' and tagName eq 'n' and tagValue eq '0'"), nil)
	if v := r.json(t)["value"].([]any); len(v) != 4 { // i in 0,6,12,18
		t.Errorf("filtered list: %d items: %s", len(v), r.body)
	}
	r = e.do("GET", "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults"+rmv, nil)
	if v := r.json(t)["value"].([]any); len(v) != 8 {
		t.Errorf("list by type path: %d items", len(v))
	}
	if r := e.do("GET", "/subscriptions/s1/resources"+rmv+"&$skipToken=!!!", nil); r.status != 400 || r.errorCode(t) != "InvalidSkipToken" {
		t.Errorf("bad skip token: %d %s", r.status, r.body)
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27").Replace(s)
}

func TestImportEndpoint(t *testing.T) {
	e := newEnv(t)
	body := `{"data":[
		{"id":"/subscriptions/s9/resourceGroups/rgA/providers/Microsoft.Compute/disks/d1","type":"microsoft.compute/disks","location":"eastus","resourceGroup":"rgA","subscriptionId":"s9"},
		{"id":"/subscriptions/s9/resourceGroups/rgA/providers/Microsoft.Compute/disks/d2","type":"microsoft.network/virtualnetworks"},
		{"name":"no id"}
	],"count":3}`
	r := e.do("POST", "/providers/Posture.Estate/import?api-version="+api.PostureAPIVersion, body)
	if r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var sum posture.ImportSummary
	json.Unmarshal(r.body, &sum)
	if sum.Read != 3 || sum.Created != 1 || sum.Implied != 2 || len(sum.Rejected) != 2 {
		t.Errorf("summary: %s", r.body)
	}
	if sum.Rejected[0].Index != 1 || sum.Rejected[0].Code != "InvalidResourceType" || sum.Rejected[1].Code != "MissingResourceId" {
		t.Errorf("rejections: %+v %+v", sum.Rejected[0], sum.Rejected[1])
	}
	// A body that is not JSON throughout is refused whole.
	r = e.do("POST", "/providers/Posture.Estate/import?api-version="+api.PostureAPIVersion,
		`[{"id":"/subscriptions/s9/resourceGroups/rgA/providers/Microsoft.Compute/disks/d3"}, {"id": ]`)
	if r.status != 400 || r.errorCode(t) != "InvalidRequestContent" {
		t.Errorf("broken import: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/subscriptions/s9/resourceGroups/rgA/providers/Microsoft.Compute/disks/d3?api-version=2023-01-01", nil); r.status != 404 {
		t.Errorf("document of a refused import was written: %d", r.status)
	}
}

func TestManagementGroups(t *testing.T) {
	e := newEnv(t)
	e.seed()
	mgv := "?api-version=2023-04-01"
	if r := e.do("PUT", "/providers/Microsoft.Management/managementGroups/prod"+mgv, `{"properties":{"displayName":"Prod"}}`); r.status != 201 {
		t.Fatalf("create group: %d %s", r.status, r.body)
	}
	r := e.do("PUT", "/providers/Microsoft.Management/managementGroups/prod/subscriptions/s1"+mgv, nil)
	if r.status != 200 {
		t.Fatalf("move subscription: %d %s", r.status, r.body)
	}
	var parent string
	e.store.Read(context.Background(), func(tx posture.Tx) error {
		s, err := tx.Resource("/subscriptions/s1")
		if err == nil {
			parent = s.ParentKey
		}
		return err
	})
	if parent != "/providers/microsoft.management/managementgroups/prod" {
		t.Errorf("subscription parent after move: %q", parent)
	}
	if r := e.do("DELETE", "/providers/Microsoft.Management/managementGroups/prod"+mgv, nil); r.status != 409 || r.errorCode(t) != "ManagementGroupHasChildren" {
		t.Errorf("delete a group with a subscription: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/providers/Microsoft.Management/managementGroups"+mgv, nil)
	if v := r.json(t)["value"].([]any); len(v) != 2 {
		t.Errorf("groups: %s", r.body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	r := e.do("DELETE", "/subscriptions/s1"+rmv, nil)
	if r.status != 405 || r.errorCode(t) != "MethodNotAllowed" {
		t.Errorf("DELETE subscription: %d %s", r.status, r.body)
	}
}

// TestDoubleSlashPath serves the "//subscriptions/…" paths that Azure SDKs
// produce when they paste a scope starting with "/" into "/{scope}/…".
func TestDoubleSlashPath(t *testing.T) {
	e := newEnv(t)
	e.seed()
	if r := e.do("GET", "//subscriptions/s1/resourceGroups/rg1"+rmv, nil); r.status != 200 {
		t.Errorf("double slash: %d %s", r.status, r.body)
	}
}
