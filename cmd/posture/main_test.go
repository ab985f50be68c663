package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armpolicy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/posture/posture/client"
	"github.com/posture/posture/demo"
)

// safeBuffer is a bytes.Buffer safe for the server goroutine and the test.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running `posture serve`.
type server struct {
	url, token, data string
	out, err         *safeBuffer
	exit             chan int
	stop             context.CancelFunc
}

// serverStartTimeout bounds the wait for a server's Ready; a benchmark's
// large estate takes longer.
var serverStartTimeout = 60 * time.Second

// startServer runs Main with serve args on a free port until the test ends.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), args...)
}

// startServerIn is startServer on a data directory that may hold a store.
func startServerIn(t testing.TB, data string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{data: data, out: &safeBuffer{}, err: &safeBuffer{}, exit: make(chan int, 1), stop: cancel}
	ready := make(chan string, 1)
	io := &IO{Out: s.out, Err: s.err, Ready: func(url string) { ready <- url }}
	go func() {
		s.exit <- Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...), io)
	}()
	select {
	case s.url = <-ready:
	case code := <-s.exit:
		t.Fatalf("serve exited with %d:\n%s\n%s", code, s.out, s.err)
	case <-time.After(serverStartTimeout):
		t.Fatalf("serve did not start:\n%s", s.err)
	}
	b, err := os.ReadFile(filepath.Join(data, BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(b))
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.exit:
		case <-time.After(15 * time.Second):
			t.Error("serve did not shut down")
		}
	})
	return s
}

func TestServeDemo(t *testing.T) {
	s := startServer(t, "--demo")
	if !strings.Contains(s.out.String(), s.token) || !strings.Contains(s.out.String(), s.url) {
		t.Errorf("serve does not print where to connect and the token:\n%s", s.out)
	}
	st, err := os.Stat(filepath.Join(s.data, BootstrapTokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap token file mode: %v %v", st.Mode(), err)
	}
	if strings.Contains(s.err.String(), s.token) {
		t.Error("the bootstrap token reached the logs")
	}
	resp, err := http.Get(s.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	c := client.New(s.url, s.token)
	var subs struct{ Value []json.RawMessage }
	if _, err := c.Do(context.Background(), "GET", "/subscriptions", "2022-12-01", nil, nil, &subs); err != nil || len(subs.Value) < 2 {
		t.Fatalf("subscriptions: %d %v", len(subs.Value), err)
	}
	// Stop: the server shuts down cleanly and exits 0.
	s.stop()
	select {
	case code := <-s.exit:
		s.exit <- code // for the cleanup
		if code != 0 {
			t.Errorf("exit code %d after SIGTERM-like stop:\n%s", code, s.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no clean shutdown")
	}
}

// tokenCredential hands the posture token to the Azure SDK.
type tokenCredential string

func (t tokenCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func sdkOptions(url string) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: url, Audience: "https://management.core.windows.net/"},
		}},
		InsecureAllowCredentialWithHTTP: true,
		Retry:                           policy.RetryOptions{MaxRetries: -1},
	}}
}

// TestAzureSDKResources drives the estate with the unchanged official Azure
// SDK for Go (armresources): our ARM shapes are the contract.
func TestAzureSDKResources(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := client.New(s.url, s.token)
	if _, err := c.Import(ctx, []json.RawMessage{json.RawMessage(`{"id":"/subscriptions/00000000-0000-0000-0000-000000000001","displayName":"SDK"}`)}); err != nil {
		t.Fatal(err)
	}
	sub := "00000000-0000-0000-0000-000000000001"
	cred := tokenCredential(s.token)
	groups, err := armresources.NewResourceGroupsClient(sub, cred, sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	rg, err := groups.CreateOrUpdate(ctx, "rg-sdk", armresources.ResourceGroup{Location: to.Ptr("westeurope"), Tags: map[string]*string{"env": to.Ptr("test")}}, nil)
	if err != nil {
		t.Fatalf("create resource group: %v", err)
	}
	if *rg.Name != "rg-sdk" || *rg.Location != "westeurope" || *rg.Tags["env"] != "test" {
		t.Errorf("created group: %+v", rg.ResourceGroup)
	}
	if ex, err := groups.CheckExistence(ctx, "rg-sdk", nil); err != nil || !ex.Success {
		t.Errorf("CheckExistence: %v %v", ex.Success, err)
	}
	if ex, err := groups.CheckExistence(ctx, "rg-missing", nil); err != nil || ex.Success {
		t.Errorf("CheckExistence of a missing group: %v %v", ex.Success, err)
	}
	resources, err := armresources.NewClient(sub, cred, sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	id := "/subscriptions/" + sub + "/resourceGroups/rg-sdk/providers/Microsoft.KeyVault/vaults/kv-sdk"
	poller, err := resources.BeginCreateOrUpdateByID(ctx, id, "2023-07-01", armresources.GenericResource{
		Location:   to.Ptr("westeurope"),
		Properties: map[string]any{"enableSoftDelete": true, "tenantId": sub},
	}, nil)
	if err != nil {
		t.Fatalf("create resource: %v", err)
	}
	created, err := poller.PollUntilDone(ctx, nil)
	if err != nil || *created.ID != id || *created.Type != "Microsoft.KeyVault/vaults" {
		t.Fatalf("created resource: %+v %v", created, err)
	}
	got, err := resources.GetByID(ctx, id, "2023-07-01", nil)
	if err != nil || got.Properties.(map[string]any)["enableSoftDelete"] != true {
		t.Errorf("GetByID: %+v %v", got, err)
	}
	pager := resources.NewListByResourceGroupPager("rg-sdk", nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 1 {
		t.Errorf("resources in rg-sdk: %d", n)
	}
	var missing *azcore.ResponseError
	_, err = resources.GetByID(ctx, id+"-nope", "2023-07-01", nil)
	if !asResponseError(err, &missing) || missing.StatusCode != 404 || missing.ErrorCode != "ResourceNotFound" {
		t.Errorf("missing resource: %v", err)
	}
	del, err := groups.BeginDelete(ctx, "rg-sdk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := del.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if _, err := resources.GetByID(ctx, id, "2023-07-01", nil); !asResponseError(err, &missing) || missing.StatusCode != 404 {
		t.Errorf("resource survived its group: %v", err)
	}
}

func asResponseError(err error, target **azcore.ResponseError) bool {
	re, ok := err.(*azcore.ResponseError)
	if ok {
		*target = re
	}
	return ok
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	if code := Main(context.Background(), []string{"demo", "generate", "--resources", "500", "--out", dir, "--per-file", "300"}, &IO{Out: &safeBuffer{}, Err: &safeBuffer{}}); code != 0 {
		t.Fatalf("demo generate exit %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 2 {
		t.Fatalf("generated %d files", len(files))
	}
	// A broken file is rejected whole and reported; the others import.
	os.WriteFile(filepath.Join(dir, "zz-broken.json"), []byte(`[{"id":"/subscriptions/x/resourceGroups/y"}, {`), 0o644)

	s := startServer(t)
	out := &safeBuffer{}
	code := Main(context.Background(), []string{"import", dir, "--server", s.url, "--token", s.token}, &IO{Out: out, Err: &safeBuffer{}})
	if code != 1 || !strings.Contains(out.String(), "zz-broken.json") || !strings.Contains(out.String(), "InvalidRequestContent") {
		t.Errorf("import through the server: exit %d\n%s", code, out)
	}
	c := client.New(s.url, s.token)
	if _, err := c.Do(context.Background(), "GET", "/subscriptions/x/resourceGroups/y", "2021-04-01", nil, nil, nil); err == nil {
		t.Error("a document of the broken file was imported")
	}
	var n int
	countAll(t, c, "/subscriptions", &n)
	if n < 3 {
		t.Errorf("%d subscriptions after import", n)
	}

	// The same files straight into a store.
	out = &safeBuffer{}
	data := t.TempDir()
	code = Main(context.Background(), []string{"import", dir, "--direct", "--data", data}, &IO{Out: out, Err: &safeBuffer{}})
	if code != 1 || !strings.Contains(out.String(), "created") {
		t.Errorf("direct import: exit %d\n%s", code, out)
	}
}

func countAll(t *testing.T, c *client.Client, path string, n *int) {
	t.Helper()
	var page struct {
		Value    []json.RawMessage
		NextLink string
	}
	if _, err := c.Do(context.Background(), "GET", path, "2022-12-01", nil, nil, &page); err != nil {
		t.Fatal(err)
	}
	*n += len(page.Value)
}

func TestBootstrapTokenFromEnv(t *testing.T) {
	t.Setenv("POSTURE_BOOTSTRAP_TOKEN", "operator-chosen-token-123")
	s := startServer(t)
	if s.token != "operator-chosen-token-123" {
		t.Errorf("bootstrap token %q", s.token)
	}
	c := client.New(s.url, s.token)
	if _, err := c.Do(context.Background(), "GET", "/subscriptions", "2022-12-01", nil, nil, nil); err != nil {
		t.Errorf("the operator's token does not work: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--addr", "nonsense", "--data", t.TempDir()}, "--addr"},
		{[]string{"serve", "--database-url", "mysql://x", "--data", t.TempDir()}, "--database-url"},
		{[]string{"serve", "--log-level", "loud"}, "log-level"},
		{[]string{"import", "/does/not/exist"}, "no such file"},
		{[]string{"frobnicate"}, "unexpected argument"},
	}
	for _, tt := range tests {
		errOut := &safeBuffer{}
		code := Main(context.Background(), tt.args, &IO{Out: &safeBuffer{}, Err: errOut})
		if code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 and %q)", tt.args, code, errOut, tt.want)
		}
		if strings.Contains(errOut.String(), "panic") {
			t.Errorf("%v panicked", tt.args)
		}
	}
}

func TestDemoTenant(t *testing.T) {
	s := startServer(t, "--demo")
	if !strings.Contains(s.out.String(), demo.TenantID) {
		t.Errorf("demo tenant not used:\n%s", s.out)
	}
}

func TestPolicyEvalCommand(t *testing.T) {
	dir := t.TempDir()
	def := "../../policy/builtin/built-in-policies/policyDefinitions/Storage/Storage_AuditForHTTPSEnabled_Audit.json"
	res := filepath.Join(dir, "sa.json")
	eval := func(https bool) (int, map[string]any) {
		os.WriteFile(res, []byte(fmt.Sprintf(`{"id":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/sa","type":"Microsoft.Storage/storageAccounts","location":"westus","properties":{"supportsHttpsTrafficOnly":%v}}`, https)), 0o644)
		out := &safeBuffer{}
		code := Main(context.Background(), []string{"policy", "eval", "--definition", def, "--resource", res, "--params", `{"effect":{"value":"Audit"}}`}, &IO{Out: out, Err: &safeBuffer{}})
		var v map[string]any
		json.Unmarshal([]byte(out.String()), &v)
		return code, v
	}
	// The rule (Storage_AuditForHTTPSEnabled_Audit.json) is NonCompliant when
	// supportsHttpsTrafficOnly is false, and the reason names that field.
	code, v := eval(false)
	if code != 0 || v["complianceState"] != "NonCompliant" || v["effect"] != "Audit" || !strings.Contains(fmt.Sprint(v["reasons"]), "supportsHttpsTrafficOnly") {
		t.Errorf("https off: exit %d %v", code, v)
	}
	if code, v := eval(true); code != 0 || v["complianceState"] != "Compliant" {
		t.Errorf("https on: exit %d %v", code, v)
	}
	errOut := &safeBuffer{}
	if code := Main(context.Background(), []string{"policy", "eval", "--definition", res, "--resource", res}, &IO{Out: &safeBuffer{}, Err: errOut}); code != 1 || !strings.Contains(errOut.String(), "InvalidPolicyRule") {
		t.Errorf("a resource given as the definition: exit %d %s", code, errOut)
	}
}

func TestPolicyCoverageCommand(t *testing.T) {
	out := &safeBuffer{}
	if code := Main(context.Background(), []string{"policy", "coverage", "--json"}, &IO{Out: out, Err: &safeBuffer{}}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out.String()), &rows); err != nil {
		t.Fatal(err)
	}
	// The benchmark (AzureSecurityCenter.json) has 223 members.
	if len(rows) != 223 {
		t.Errorf("%d members", len(rows))
	}
	classes := map[any]int{}
	for _, r := range rows {
		classes[r["class"]]++
	}
	if classes["self-contained"] == 0 || classes["data-plane"] == 0 || classes["scanner-assessment"] == 0 {
		t.Errorf("classes %v", classes)
	}
}

// TestAzureSDKPolicy drives definitions and assignments with the unchanged
// armpolicy SDK, and checks through the states that the assignment was
// evaluated when its PUT returned.
func TestAzureSDKPolicy(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := client.New(s.url, s.token)
	sub := "00000000-0000-0000-0000-000000000002"
	if _, err := c.Import(ctx, []json.RawMessage{
		json.RawMessage(`{"id":"/subscriptions/` + sub + `","displayName":"SDK"}`),
		json.RawMessage(`{"id":"/subscriptions/` + sub + `/resourceGroups/rg/providers/Microsoft.Compute/disks/tagged","location":"westus","tags":{"owner":"ann"}}`),
		json.RawMessage(`{"id":"/subscriptions/` + sub + `/resourceGroups/rg/providers/Microsoft.Compute/disks/untagged","location":"westus"}`),
	}); err != nil {
		t.Fatal(err)
	}
	cred := tokenCredential(s.token)
	defs, err := armpolicy.NewDefinitionsClient(sub, cred, sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := defs.GetBuiltIn(ctx, "404c3081-a854-4457-ae30-26a93ef643f9", nil) // Secure transfer to storage accounts should be enabled
	if err != nil || builtin.Properties == nil || *builtin.Properties.PolicyType != armpolicy.PolicyTypeBuiltIn {
		t.Fatalf("built-in definition: %+v %v", builtin, err)
	}
	def, err := defs.CreateOrUpdate(ctx, "require-owner", armpolicy.Definition{Properties: &armpolicy.DefinitionProperties{
		DisplayName: to.Ptr("Require an owner tag"),
		Mode:        to.Ptr("Indexed"),
		PolicyRule: map[string]any{
			"if":   map[string]any{"field": "tags['owner']", "exists": "false"},
			"then": map[string]any{"effect": "audit"},
		},
	}}, nil)
	if err != nil {
		t.Fatalf("create definition: %v", err)
	}
	if *def.Properties.PolicyType != armpolicy.PolicyTypeCustom || *def.ID != "/subscriptions/"+sub+"/providers/Microsoft.Authorization/policyDefinitions/require-owner" {
		t.Errorf("created definition: %+v", def.Definition)
	}
	assignments, err := armpolicy.NewAssignmentsClient(sub, cred, sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	scope := "/subscriptions/" + sub + "/resourceGroups/rg"
	a, err := assignments.Create(ctx, scope, "owners", armpolicy.Assignment{Properties: &armpolicy.AssignmentProperties{PolicyDefinitionID: def.ID}}, nil)
	if err != nil {
		t.Fatalf("create assignment: %v", err)
	}
	if *a.Properties.Scope != scope || *a.Properties.EnforcementMode != armpolicy.EnforcementModeDefault {
		t.Errorf("assignment: %+v", a.Properties)
	}
	// Evaluated before the PUT returned: one Compliant, one NonCompliant disk.
	var states struct {
		Value []struct {
			ResourceID      string `json:"resourceId"`
			ComplianceState string `json:"complianceState"`
		} `json:"value"`
	}
	if _, err := c.Do(ctx, "POST", "/subscriptions/"+sub+"/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults", "2019-10-01",
		url.Values{"$filter": {"policyAssignmentId eq '" + *a.ID + "'"}}, nil, &states); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range states.Value {
		got[v.ResourceID[strings.LastIndex(v.ResourceID, "/")+1:]] = v.ComplianceState
	}
	if got["tagged"] != "Compliant" || got["untagged"] != "NonCompliant" || len(got) != 2 {
		t.Errorf("states of the assignment: %v", got)
	}
	pager := assignments.NewListPager(&armpolicy.AssignmentsClientListOptions{Filter: to.Ptr("policyDefinitionId eq '" + *def.ID + "'")})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 1 {
		t.Errorf("assignments of the definition: %d", n)
	}
	var re *azcore.ResponseError
	if _, err := defs.Delete(ctx, "require-owner", nil); !asResponseError(err, &re) || re.StatusCode != 400 || re.ErrorCode != "InvalidDeletePolicyDefinitionRequest" {
		t.Errorf("delete a definition in use: %v", err)
	}
	if _, err := assignments.Delete(ctx, scope, "owners", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := defs.Delete(ctx, "require-owner", nil); err != nil {
		t.Errorf("delete the unused definition: %v", err)
	}
	if _, err := defs.Get(ctx, "require-owner", nil); !asResponseError(err, &re) || re.StatusCode != 404 || re.ErrorCode != "PolicyDefinitionNotFound" {
		t.Errorf("get a deleted definition: %v", err)
	}
}

// TestAzureSDKResourceGraph queries with the unchanged armresourcegraph SDK
// (api-version 2024-04-01), following its skip tokens.
func TestAzureSDKResourceGraph(t *testing.T) {
	s := startServer(t, "--demo")
	ctx := context.Background()
	cl, err := armresourcegraph.NewClient(tokenCredential(s.token), sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	req := armresourcegraph.QueryRequest{
		Query:   to.Ptr("Resources | project id, type | order by id asc"),
		Options: &armresourcegraph.QueryRequestOptions{Top: to.Ptr[int32](150)},
		Facets:  []*armresourcegraph.FacetRequest{{Expression: to.Ptr("type"), Options: &armresourcegraph.FacetRequestOptions{Top: to.Ptr[int32](3)}}},
	}
	seen := map[string]bool{}
	var total int64
	for pages := 0; ; pages++ {
		resp, err := cl.Resources(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		total = *resp.TotalRecords
		for _, row := range resp.Data.([]any) {
			seen[row.(map[string]any)["id"].(string)] = true
		}
		if pages == 0 && (len(resp.Facets) != 1 || *resp.Facets[0].GetFacet().ResultType != "FacetResult") {
			t.Errorf("facets: %+v", resp.Facets)
		}
		if resp.SkipToken == nil || *resp.SkipToken == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		req.Options.SkipToken = resp.SkipToken
	}
	if int64(len(seen)) != total || total < 400 {
		t.Errorf("paged %d distinct rows of %d", len(seen), total)
	}
	_, err = cl.Resources(ctx, armresourcegraph.QueryRequest{Query: to.Ptr("Resources | where")}, nil)
	var re *azcore.ResponseError
	if !asResponseError(err, &re) || re.StatusCode != 400 || re.ErrorCode != "BadRequest" {
		t.Errorf("a query that does not parse: %v", err)
	}
}

func TestQueryCommand(t *testing.T) {
	s := startServer(t, "--demo")
	run := func(format string) string {
		out := &safeBuffer{}
		code := Main(context.Background(), []string{"query", "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project name | order by name asc",
			"--server", s.url, "--token", s.token, "-o", format}, &IO{Out: out, Err: &safeBuffer{}})
		if code != 0 {
			t.Fatalf("query -o %s: exit %d", format, code)
		}
		return out.String()
	}
	if got := run("csv"); got != "name\nContoso Development\nContoso Platform\nContoso Production\n" {
		t.Errorf("csv:\n%s", got)
	}
	var objs []map[string]any
	if err := json.Unmarshal([]byte(run("json")), &objs); err != nil || len(objs) != 3 || objs[0]["name"] != "Contoso Development" {
		t.Errorf("json: %v %v", objs, err)
	}
	if got := run("table"); !strings.HasPrefix(got, "name\n") || !strings.Contains(got, "Contoso Platform") {
		t.Errorf("table:\n%s", got)
	}
	errOut := &safeBuffer{}
	if code := Main(context.Background(), []string{"query", "resources | where", "--server", s.url, "--token", s.token}, &IO{Out: &safeBuffer{}, Err: errOut}); code != 1 || !strings.Contains(errOut.String(), "BadRequest") {
		t.Errorf("bad query: exit %d %s", code, errOut)
	}
}

// raw sends one request with the bootstrap token.
func (s *server) raw(t testing.TB, method, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (s *server) get(t testing.TB, path string) []byte {
	t.Helper()
	code, _, b := s.raw(t, http.MethodGet, path, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	return b
}
