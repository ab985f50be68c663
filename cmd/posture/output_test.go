package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/posture/posture"
)

// runCLI runs posture with args (and --server and --token of s, when s is
// not nil) and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, s *server, args ...string) (int, string, string) {
	t.Helper()
	if s != nil {
		args = append(args, "--server", s.url, "--token", s.token)
	}
	out, errOut := &safeBuffer{}, &safeBuffer{}
	code := Main(context.Background(), args, &IO{In: strings.NewReader(""), Out: out, Err: errOut})
	return code, out.String(), errOut.String()
}

// mustCLI is runCLI that wants exit code 0.
func mustCLI(t *testing.T, s *server, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, s, args...)
	if code != 0 {
		t.Fatalf("posture %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// isolateConfig points the profile file at a fresh directory and clears
// the environment that would pick a server, token or output format.
func isolateConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	for _, k := range []string{"POSTURE_SERVER", "POSTURE_TOKEN", "POSTURE_PROFILE", "POSTURE_OUTPUT", "POSTURE_JSON", "POSTURE_DATA"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return dir
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

// yamlAsJSON decodes YAML output and re-encodes it as JSON, to compare it
// with the JSON output.
func yamlAsJSON(t *testing.T, text string) []byte {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, text)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("YAML with non-JSON values: %v", err)
	}
	return b
}

// parseCSV parses CSV output: the header and the records.
func parseCSV(t *testing.T, text string) ([]string, [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("not CSV: %v\n%s", err, text)
	}
	return recs[0], recs[1:]
}

// apiList reads every page of an ARM list with the bootstrap token.
func apiList(t *testing.T, s *server, path string, query url.Values) []json.RawMessage {
	t.Helper()
	var all []json.RawMessage
	next := path + "?" + query.Encode()
	for next != "" {
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := json.Unmarshal(s.get(t, next), &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Value...)
		next = strings.TrimPrefix(page.NextLink, s.url)
	}
	return all
}

func TestCSVSafe(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want string
	}{
		{"=HYPERLINK(\"x\")", `'=HYPERLINK("x")`}, {"+1", "'+1"}, {"-1", "'-1"}, {"@SUM(A1)", "'@SUM(A1)"}, {"\tx", "'\tx"},
		{"plain", "plain"}, {"", ""}, {-5.0, "-5"}, {true, "true"}, {nil, ""}, {"a=b", "a=b"},
		{json.Number("-3"), "-3"}, {json.RawMessage(`-2`), "-2"}, {json.RawMessage(`"=x"`), "'=x"}, {json.RawMessage(`null`), ""},
	} {
		if got := csvCell(tt.in); got != tt.want {
			t.Errorf("csvCell(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var b bytes.Buffer
	if err := writeCSV(&b, []string{"=h", "n"}, [][]any{{"=cmd|' /C calc'!A0", 1.5}}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "'=h,n\n'=cmd|' /C calc'!A0,1.5\n" {
		t.Errorf("csv:\n%s", got)
	}
}

func TestHeaderOf(t *testing.T) {
	for in, want := range map[string]string{"expiresOn": "EXPIRES ON", "notApplicable": "NOT APPLICABLE", "id": "ID", "resourceId": "RESOURCE ID", "name": "NAME"} {
		if got := headerOf(in); got != want {
			t.Errorf("headerOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDocView(t *testing.T) {
	doc := json.RawMessage(`{"properties":{"b":1,"a":"x","refs":["r1","r2"],"sel":[{"name":"eu","in":["w"]}],"meta":{},"none":null},"id":"/x"}`)
	v, err := docView(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v.Rows {
		got = append(got, fmt.Sprintf("%v=%v", r[0], cell(r[1])))
	}
	want := []string{"properties.b=1", "properties.a=x", "properties.refs=r1, r2", "properties.sel[0].name=eu", "properties.sel[0].in=w", "properties.meta={}", "properties.none=", "id=/x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	if _, err := docView(json.RawMessage(`{"a":1} {}`)); err == nil {
		t.Error("two documents flattened as one")
	}
}

// TestPrintYAML: keys stay in the JSON's order and strings that YAML would
// read as something else stay strings.
func TestPrintYAML(t *testing.T) {
	in := json.RawMessage(`{"b":1,"a":{"z":"yes","y":[1,"2"],"x":"0x10","w":"null","v":"multi\nline","u":""}}`)
	var b bytes.Buffer
	if err := printYAML(&b, in); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "b: 1\na:\n  z: ") {
		t.Errorf("order or block style lost:\n%s", b.String())
	}
	if !sameJSON(t, in, yamlAsJSON(t, b.String())) {
		t.Errorf("YAML does not read back as the JSON:\n%s", b.String())
	}
}

func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{errors.New("x"), 1},
		{usageError{errors.New("x")}, 2},
		{fmt.Errorf("wrapped: %w", usageError{errors.New("x")}), 2},
		{&posture.Error{Kind: posture.EINVALID, Code: "BadRequest"}, 1},
		{&posture.Error{Kind: posture.ENOTFOUND, Code: "NotFound"}, 3},
		{fmt.Errorf("reading: %w", &posture.Error{Kind: posture.ENOTFOUND}), 3},
		{&posture.Error{Kind: posture.EUNAUTHORIZED}, 4},
		{&posture.Error{Kind: posture.EFORBIDDEN}, 4},
		{&posture.Error{Kind: posture.ECONFLICT}, 5},
		{&posture.Error{Kind: posture.EPRECONDITION}, 5},
		{&posture.Error{Kind: posture.EINTERNAL}, 1},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	// Usage errors from kong and from commands are 2; --help lists the
	// codes.
	if code, _, _ := runCLI(t, nil, "exemption", "list", "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code, _, errOut := runCLI(t, nil, "policy", "coverage", "--json", "-o", "csv"); code != 2 || !strings.Contains(errOut, "contradict") {
		t.Errorf("--json -o csv: exit %d %s", code, errOut)
	}
	code, out, _ := runCLI(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "5  conflict") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "listing").unit("exemptions")
	p.add(3, "")
	if b.Len() != 0 {
		t.Errorf("progress drawn on a non-terminal: %q", b.String())
	}
	p.on = true
	p.add(1200, "page 2")
	p.done()
	if got := b.String(); !strings.Contains(got, "listing 1,203 exemptions") || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("progress line: %q", got)
	}
}

// TestOutputFormats runs the read commands converted to the shared output
// flags against a demo server: JSON is what the API returns, YAML reads
// back as the JSON, CSV parses with the table's columns.
func TestOutputFormats(t *testing.T) {
	isolateConfig(t)
	s := startServer(t, "--demo")
	const sub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	assignment := sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	for i, name := range []string{"fmt-a", "fmt-b", "fmt-c"} {
		mustCLI(t, s, "exemption", "create", "--scope", sub, "-n", name, "-a", assignment, "-e", "Mitigated", "-r", "StorageDisallowPublicAccess",
			"--display-name", fmt.Sprintf("=formula %d", i), "--metadata", "ticketRef=CHG-"+name)
	}
	exPath := sub + "/providers/Microsoft.Authorization/policyExemptions"

	// exemption list: the API's documents (every page), in each format.
	apiDocs := apiList(t, s, exPath, url.Values{"api-version": {exemptionAPIVersion}, "$filter": {"atExactScope()"}})
	if len(apiDocs) != 3 {
		t.Fatalf("API lists %d exemptions", len(apiDocs))
	}
	want, _ := json.Marshal(apiDocs)
	list := []string{"exemption", "list", "--scope", sub, "--filter", "atExactScope()"}
	jsonOut := mustCLI(t, s, append(list, "-o", "json")...)
	if !sameJSON(t, []byte(jsonOut), want) {
		t.Errorf("exemption list -o json is not the API's list:\n%s", jsonOut)
	}
	if alias := mustCLI(t, s, append(list, "--json")...); alias != jsonOut {
		t.Errorf("--json differs from -o json")
	}
	if y := mustCLI(t, s, append(list, "-o", "yaml")...); !sameJSON(t, yamlAsJSON(t, y), want) {
		t.Errorf("exemption list -o yaml:\n%s", y)
	}
	header, rows := parseCSV(t, mustCLI(t, s, append(list, "-o", "csv")...))
	if strings.Join(header, ",") != "name,category,status,expires,references,id" || len(rows) != 3 || rows[0][1] != "Mitigated" || rows[0][4] != "StorageDisallowPublicAccess" || !strings.HasSuffix(rows[0][5], "/policyExemptions/"+rows[0][0]) {
		t.Errorf("exemption list -o csv: %v %v", header, rows)
	}
	if table := mustCLI(t, s, list...); !strings.HasPrefix(table, "NAME ") || !strings.Contains(table, "EXPIRES") || strings.Count(table, "\n") != 4 {
		t.Errorf("exemption list table:\n%s", table)
	}
	// POSTURE_OUTPUT sets the default.
	t.Setenv("POSTURE_OUTPUT", "csv")
	if out := mustCLI(t, s, list...); !strings.HasPrefix(out, "name,category") {
		t.Errorf("POSTURE_OUTPUT=csv:\n%s", out)
	}
	os.Unsetenv("POSTURE_OUTPUT")

	// exemption show: JSON by default; the table and CSV are its fields,
	// formula-safe.
	show := []string{"exemption", "show", "--scope", sub, "-n", "fmt-a"}
	if out := mustCLI(t, s, show...); !sameJSON(t, []byte(out), s.get(t, exPath+"/fmt-a?api-version="+exemptionAPIVersion)) {
		t.Errorf("exemption show:\n%s", out)
	}
	header, rows = parseCSV(t, mustCLI(t, s, append(show, "-o", "csv")...))
	fields := map[string]string{}
	for _, r := range rows {
		fields[r[0]] = r[1]
	}
	if strings.Join(header, ",") != "field,value" || fields["properties.displayName"] != "'=formula 0" || fields["properties.metadata.ticketRef"] != "CHG-fmt-a" || fields["name"] != "fmt-a" {
		t.Errorf("exemption show -o csv: %v", fields)
	}
	if out := mustCLI(t, s, append(show, "-o", "table")...); !strings.HasPrefix(out, "FIELD ") || !strings.Contains(out, "properties.exemptionCategory") {
		t.Errorf("exemption show -o table:\n%s", out)
	}

	// exemption history.
	var hist struct{ Value []json.RawMessage }
	json.Unmarshal(s.get(t, exPath+"/fmt-b/history?api-version="+exemptionAPIVersion), &hist)
	want, _ = json.Marshal(hist.Value)
	if out := mustCLI(t, s, "exemption", "history", "--scope", sub, "-n", "fmt-b", "-o", "json"); !sameJSON(t, []byte(out), want) {
		t.Errorf("exemption history -o json:\n%s", out)
	}
	header, rows = parseCSV(t, mustCLI(t, s, "exemption", "history", "--scope", sub, "-n", "fmt-b", "-o", "csv"))
	if strings.Join(header, ",") != "sequence,time,kind,actor,actorType" || len(rows) != 1 || rows[0][2] != "Created" {
		t.Errorf("exemption history -o csv: %v %v", header, rows)
	}

	// role list, token list, principal list: the API's values.
	roles := apiList(t, s, "/providers/Microsoft.Authorization/roleAssignments", url.Values{"api-version": {roleAPIVersion}})
	want, _ = json.Marshal(roles)
	if out := mustCLI(t, s, "role", "list", "-o", "json"); !sameJSON(t, []byte(out), want) {
		t.Errorf("role list -o json:\n%s", out)
	}
	header, rows = parseCSV(t, mustCLI(t, s, "role", "list", "-o", "csv"))
	if strings.Join(header, ",") != "principal,type,role,scope,id" || len(rows) != len(roles) || rows[0][2] != "Owner" {
		t.Errorf("role list -o csv: %v %v", header, rows)
	}
	mustCLI(t, s, "principal", "create", "--id", "fmt-user", "--name", "Format User")
	mustCLI(t, s, "token", "create", "--principal", "fmt-user", "--name", "t1")
	tokens := apiList(t, s, "/providers/Posture.Identity/principals/fmt-user/tokens", url.Values{"api-version": {identityAPIVersion}})
	want, _ = json.Marshal(tokens)
	if out := mustCLI(t, s, "token", "list", "--principal", "fmt-user", "-o", "json"); len(tokens) != 1 || !sameJSON(t, []byte(out), want) {
		t.Errorf("token list -o json:\n%s", out)
	}
	if out := mustCLI(t, s, "token", "list", "--principal", "fmt-user", "-o", "yaml"); !sameJSON(t, yamlAsJSON(t, out), want) || strings.Contains(out, "pst_") {
		t.Errorf("token list -o yaml:\n%s", out)
	}
	principals := apiList(t, s, "/providers/Posture.Identity/principals", url.Values{"api-version": {identityAPIVersion}})
	header, rows = parseCSV(t, mustCLI(t, s, "principal", "list", "-o", "csv"))
	if strings.Join(header, ",") != "principalId,type,name" || len(rows) != len(principals) {
		t.Errorf("principal list -o csv: %v %v", header, rows)
	}

	// request list: the API's documents.
	mustCLI(t, s, "request", "create", "--scope", sub, "-n", "fmt-req", "-a", assignment, "-r", "StorageDisallowPublicAccess", "-e", "Mitigated", "-j", "handled by the proxy")
	reqs := apiList(t, s, sub+"/providers/Microsoft.Security/exemptionRequests", url.Values{"api-version": {"2026-11-01"}})
	want, _ = json.Marshal(reqs)
	if out := mustCLI(t, s, "request", "list", "--scope", sub, "-o", "json"); len(reqs) != 1 || !sameJSON(t, []byte(out), want) {
		t.Errorf("request list -o json:\n%s", out)
	}
	header, rows = parseCSV(t, mustCLI(t, s, "request", "list", "--scope", sub, "-o", "csv"))
	if strings.Join(header, ",") != "status,requested,by,recommendation,resources,id" || len(rows) != 1 || rows[0][0] != "Pending" {
		t.Errorf("request list -o csv: %v %v", header, rows)
	}
	if out := mustCLI(t, s, "request", "show", "--scope", sub, "-n", "fmt-req", "-o", "yaml"); !sameJSON(t, yamlAsJSON(t, out), s.get(t, sub+"/providers/Microsoft.Security/exemptionRequests/fmt-req?api-version=2026-11-01")) {
		t.Errorf("request show -o yaml:\n%s", out)
	}

	// query: objects in the columns' order; CSV formula-safe.
	q := "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project name, minus = strcat('-', name) | order by name asc"
	out := mustCLI(t, s, "query", q, "-o", "json")
	if !strings.Contains(out, `"name": "Contoso Development",`+"\n"+`    "minus": "-Contoso Development"`) {
		t.Errorf("query -o json (column order):\n%s", out)
	}
	if got := mustCLI(t, s, "query", q, "-o", "csv"); got != "name,minus\nContoso Development,'-Contoso Development\nContoso Platform,'-Contoso Platform\nContoso Production,'-Contoso Production\n" {
		t.Errorf("query -o csv:\n%s", got)
	}
	if y := mustCLI(t, s, "query", q, "-o", "yaml"); !sameJSON(t, yamlAsJSON(t, y), []byte(out)) {
		t.Errorf("query -o yaml:\n%s", y)
	}

	// audit verify through the server: the report.
	out = mustCLI(t, s, "audit", "verify", "--data", s.data, "-o", "json")
	var rep verifyResult
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || rep.Entries == 0 || rep.Head == "" || rep.VerifiedWith == "" {
		t.Errorf("audit verify -o json: %v\n%s", err, out)
	}

	// policy coverage (no server): JSON rows, CSV rows.
	var cov []coverageRow
	if err := json.Unmarshal([]byte(mustCLI(t, nil, "policy", "coverage", "-o", "json")), &cov); err != nil || len(cov) != 223 {
		t.Errorf("policy coverage -o json: %d %v", len(cov), err)
	}
	header, rows = parseCSV(t, mustCLI(t, nil, "policy", "coverage", "-o", "csv"))
	if header[0] != "policyDefinitionReferenceId" || len(rows) != 223 || rows[0][0] != cov[0].ReferenceID {
		t.Errorf("policy coverage -o csv: %v (%d rows)", header, len(rows))
	}
}
