package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture/internal/pgtest"
)

// startReplica starts another server on the database of first, with
// first's bootstrap token (only the replica that created the store wrote
// it).
func startReplica(t *testing.T, first *server, dbURL string, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, BootstrapTokenFile), []byte(first.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServerIn(t, dir, append([]string{"--database-url", dbURL}, args...)...)
}

// within polls check until it passes or the time runs out; it returns the
// last result.
func within(d time.Duration, check func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(d)
	for {
		ok, got := check()
		if ok || time.Now().After(deadline) {
			return ok, got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// query runs a Resource Graph query and returns the rows.
func (s *server) query(t *testing.T, q string) []map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q})
	code, _, b := s.raw(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", string(body))
	var res struct{ Data []map[string]any }
	if code != http.StatusOK || json.Unmarshal(b, &res) != nil {
		t.Fatalf("query %q: %d %s", q, code, b)
	}
	return res.Data
}

func (s *server) count(t *testing.T, q string) string {
	rows := s.query(t, q+" | count")
	if len(rows) != 1 {
		t.Fatalf("%s: %v", q, rows)
	}
	return fmt.Sprint(rows[0]["Count"])
}

func (s *server) score(t *testing.T, sub string) string {
	var d struct {
		Properties struct {
			Score struct{ Current, Percentage float64 }
		}
	}
	b := s.get(t, sub+"/providers/Microsoft.Security/secureScores/ascScore?api-version=2020-01-01")
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return fmt.Sprintf("%.2f", d.Properties.Score.Current)
}

// TestReplicas runs three posture replicas on one PostgreSQL database and
// checks that they behave as one service: a write through one is seen
// through another within a second on every view (the API, Defender's
// scores and assessments, Resource Graph), a replica started later catches
// up, ETags serialise writers on different replicas, one replica leads,
// and an expiry is recorded once.
func TestReplicas(t *testing.T) {
	dbURL := pgtest.Schema(t, "replicas")
	a := startServer(t, "--database-url", dbURL, "--demo")
	b := startReplica(t, a, dbURL)

	const sub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	assignment := sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	exemptionPath := func(name string) string {
		return sub + "/providers/Microsoft.Authorization/policyExemptions/" + name + "?api-version=2022-07-01-preview"
	}
	exempted := "policyresources | where type == 'microsoft.policyinsights/policystates' and properties.complianceState == 'Exempt'"
	before := a.score(t, sub)
	exemptBefore := a.count(t, exempted)

	// An exemption of the whole subscription through A: B's score and
	// Resource Graph follow within a second.
	code, _, body := a.raw(t, http.MethodPut, exemptionPath("everything"), `{"properties":{"policyAssignmentId":"`+assignment+`","exemptionCategory":"Waiver","expiresOn":"`+time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339)+`"}}`)
	if code != http.StatusCreated {
		t.Fatalf("PUT exemption: %d %s", code, body)
	}
	after := a.score(t, sub)
	exemptAfter := a.count(t, exempted)
	if after == before || exemptAfter == exemptBefore {
		t.Fatalf("the exemption changed nothing on its own replica: score %s → %s, exempt states %s → %s", before, after, exemptBefore, exemptAfter)
	}
	if ok, got := within(time.Second, func() (bool, string) {
		s, n := b.score(t, sub), b.count(t, exempted)
		return s == after && n == exemptAfter, s + " " + n
	}); !ok {
		t.Errorf("replica B after A's exemption: score and exempt states %s, want %s %s", got, after, exemptAfter)
	}

	// An exemption of one reference on one resource through B: A renders
	// the same states of that resource, those of the other references
	// untouched (the change log names the references it re-stamped;
	// ChangeKeys.StateRefs).
	target := a.query(t, "policyresources | where type == 'microsoft.policyinsights/policystates' and properties.complianceState == 'NonCompliant' and properties.policyAssignmentId !~ '"+assignment+"' | project rid = tostring(properties.resourceId), ref = tostring(properties.policyDefinitionReferenceId), aid = tostring(properties.policyAssignmentId) | order by rid asc | take 1")
	if len(target) != 1 {
		t.Fatalf("no non-compliant state outside the exempted assignment to exempt: %v", target)
	}
	rid, ref, aid := fmt.Sprint(target[0]["rid"]), fmt.Sprint(target[0]["ref"]), fmt.Sprint(target[0]["aid"])
	byState := "policyresources | where type == 'microsoft.policyinsights/policystates' and tolower(properties.resourceId) == tolower('" + rid + "') | summarize n = count() by s = tostring(properties.complianceState), r = tostring(properties.policyDefinitionReferenceId) | order by r asc, s asc"
	fingerprint := func(s *server) string { return fmt.Sprint(s.query(t, byState)) }
	statesBefore := fingerprint(a)
	code, _, body = b.raw(t, http.MethodPut, rid+"/providers/Microsoft.Authorization/policyExemptions/one-ref?api-version=2022-07-01-preview",
		`{"properties":{"policyAssignmentId":"`+aid+`","policyDefinitionReferenceIds":["`+ref+`"],"exemptionCategory":"Mitigated"}}`)
	if code != http.StatusCreated {
		t.Fatalf("PUT one-reference exemption: %d %s", code, body)
	}
	// B forwarded the write to the leader (A) and caught up before it
	// answered: its own next read shows the write.
	if !strings.Contains(b.err.String(), `"method":"PUT","path":"`+rid+`/providers/Microsoft.Authorization/policyExemptions/one-ref","status":201`) || !strings.Contains(b.err.String(), `"route":"forwarded"`) {
		t.Errorf("replica B did not forward its exemption write to the leader:\n%s", b.err)
	}
	statesWriter := fingerprint(b)
	if statesWriter == statesBefore {
		t.Fatalf("the one-reference exemption changed no state of %s on its own replica: %s", rid, statesWriter)
	}
	if ok, got := within(time.Second, func() (bool, string) {
		f := fingerprint(a)
		return f == statesWriter, f
	}); !ok {
		t.Errorf("replica A after B's one-reference exemption: states of %s\n%s\nwant (as B)\n%s", rid, got, statesWriter)
	}

	// A resource written through B is evaluated there and seen by A.
	code, _, body = b.raw(t, http.MethodPut, sub+"/resourcegroups/repl-rg?api-version=2021-04-01", `{"location":"westeurope"}`)
	if code != http.StatusCreated {
		t.Fatalf("PUT resource group: %d %s", code, body)
	}
	code, _, body = b.raw(t, http.MethodPut, sub+"/resourceGroups/repl-rg/providers/Microsoft.Storage/storageAccounts/replsa?api-version=2023-01-01",
		`{"location":"westeurope","kind":"StorageV2","sku":{"name":"Standard_LRS"},"properties":{"supportsHttpsTrafficOnly":false,"minimumTlsVersion":"TLS1_0"}}`)
	if code != http.StatusCreated {
		t.Fatalf("PUT storage account: %d %s", code, body)
	}
	states := "policyresources | where type == 'microsoft.policyinsights/policystates' and tolower(properties.resourceId) endswith '/storageaccounts/replsa'"
	want := b.count(t, states)
	if want == "0" {
		t.Fatalf("the storage account has no policy states on the replica that wrote it")
	}
	if ok, got := within(time.Second, func() (bool, string) {
		n, r := a.count(t, states), a.count(t, "resources | where name == 'replsa'")
		return n == want && r == "1", n + " " + r
	}); !ok {
		t.Errorf("replica A after B's storage account: states and rows %s, want %s 1", got, want)
	}

	// A replica started later has everything.
	c := startReplica(t, a, dbURL)
	exemptNow := a.count(t, exempted) // the storage account's states are exempt too
	if s, n, st := c.score(t, sub), c.count(t, exempted), c.count(t, states); s != after || n != exemptNow || st != want {
		t.Errorf("replica C started later: score %s, exempt %s, storage states %s; want %s %s %s", s, n, st, after, exemptNow, want)
	}

	// Deleting through C restores the score everywhere, and the
	// exemption's Resource Graph row goes.
	exemptionRow := "policyresources | where type == 'microsoft.authorization/policyexemptions' and name == 'everything'"
	if n := b.count(t, exemptionRow); n != "1" {
		t.Errorf("replica B before the delete: %s rows of the exemption, want 1", n)
	}
	if code, _, body := c.raw(t, http.MethodDelete, exemptionPath("everything"), ""); code != http.StatusOK {
		t.Fatalf("DELETE exemption: %d %s", code, body)
	}
	restored := c.score(t, sub)
	for name, s := range map[string]*server{"A": a, "B": b} {
		if ok, got := within(time.Second, func() (bool, string) {
			x, n := s.score(t, sub), s.count(t, exemptionRow)
			return x == restored && n == "0", x + " " + n
		}); !ok {
			t.Errorf("replica %s after C's delete: score and exemption rows %s, want %s 0", name, got, restored)
		}
	}

	// An initiative changed through A to drop a reference: B drops that
	// reference's states too, although the recompiled initiative no longer
	// names it.
	setPath := sub + "/providers/Microsoft.Authorization/policySetDefinitions/repl-set?api-version=2021-06-01"
	setBody := func(refs ...string) string {
		defs := map[string]string{
			"secureTransfer": "/providers/Microsoft.Authorization/policyDefinitions/404c3081-a854-4457-ae30-26a93ef643f9",
			"networkAcls":    "/providers/Microsoft.Authorization/policyDefinitions/34c877ad-507e-4c82-993e-3452a6e0ad3c",
		}
		var parts []string
		for _, r := range refs {
			parts = append(parts, fmt.Sprintf(`{"policyDefinitionId":%q,"policyDefinitionReferenceId":%q}`, defs[r], r))
		}
		return `{"properties":{"displayName":"replicated set","policyDefinitions":[` + strings.Join(parts, ",") + `]}}`
	}
	if code, _, body := a.raw(t, http.MethodPut, setPath, setBody("secureTransfer", "networkAcls")); code != http.StatusCreated {
		t.Fatalf("PUT initiative: %d %s", code, body)
	}
	if code, _, body := a.raw(t, http.MethodPut, sub+"/providers/Microsoft.Authorization/policyAssignments/repl-set?api-version=2022-06-01",
		`{"properties":{"policyDefinitionId":"`+sub+`/providers/Microsoft.Authorization/policySetDefinitions/repl-set"}}`); code != http.StatusCreated {
		t.Fatalf("PUT assignment of the initiative: %d %s", code, body)
	}
	dropped := "policyresources | where type == 'microsoft.policyinsights/policystates' and properties.policyAssignmentId endswith '/repl-set' and properties.policyDefinitionReferenceId =~ 'networkAcls'"
	if n := a.count(t, dropped); n == "0" {
		t.Fatalf("the initiative's second reference has no states on the replica that assigned it")
	}
	if ok, got := within(time.Second, func() (bool, string) {
		n := b.count(t, dropped)
		return n == a.count(t, dropped), n
	}); !ok {
		t.Errorf("replica B after A's assignment: %s states of the second reference, want %s", got, a.count(t, dropped))
	}
	if code, _, body := a.raw(t, http.MethodPut, setPath, setBody("secureTransfer")); code != http.StatusOK {
		t.Fatalf("PUT initiative without its second reference: %d %s", code, body)
	}
	if n := a.count(t, dropped); n != "0" {
		t.Errorf("replica A keeps %s states of the reference its initiative dropped", n)
	}
	if ok, got := within(time.Second, func() (bool, string) {
		n := b.count(t, dropped)
		return n == "0", n
	}); !ok {
		t.Errorf("replica B keeps %s states of the reference A's initiative dropped", got)
	}
	// B evaluates with the initiative as A changed it: a storage account
	// written through B gets the remaining reference's state, not the
	// dropped one's.
	if code, _, body := b.raw(t, http.MethodPut, sub+"/resourceGroups/repl-rg/providers/Microsoft.Storage/storageAccounts/replsa2?api-version=2023-01-01",
		`{"location":"westeurope","kind":"StorageV2","sku":{"name":"Standard_LRS"},"properties":{"supportsHttpsTrafficOnly":false}}`); code != http.StatusCreated {
		t.Fatalf("PUT storage account through B: %d %s", code, body)
	}
	kept := "policyresources | where type == 'microsoft.policyinsights/policystates' and properties.policyAssignmentId endswith '/repl-set' and tolower(properties.resourceId) endswith '/replsa2' | project r = tolower(tostring(properties.policyDefinitionReferenceId))"
	for name, s := range map[string]*server{"A": a, "B": b} {
		if ok, got := within(time.Second, func() (bool, string) {
			rows := fmt.Sprint(s.query(t, kept))
			return rows == "[map[r:securetransfer]]", rows
		}); !ok {
			t.Errorf("replica %s: the storage account written through B has states %s of the changed initiative, want secureTransfer alone", name, got)
		}
	}
	// Gone again, and the initiative's assignment: the scores below are
	// those of the estate before this step.
	for _, path := range []string{
		sub + "/resourceGroups/repl-rg/providers/Microsoft.Storage/storageAccounts/replsa2?api-version=2023-01-01",
		sub + "/providers/Microsoft.Authorization/policyAssignments/repl-set?api-version=2022-06-01",
	} {
		if code, _, body := b.raw(t, http.MethodDelete, path, ""); code != http.StatusOK {
			t.Fatalf("DELETE %s: %d %s", path, code, body)
		}
	}

	// Two writers with the same ETag on different replicas: one wins.
	code, hdr, body := a.raw(t, http.MethodPut, exemptionPath("race"), `{"properties":{"policyAssignmentId":"`+assignment+`","exemptionCategory":"Mitigated"}}`)
	if code != http.StatusCreated {
		t.Fatalf("PUT race: %d %s", code, body)
	}
	etag := hdr.Get("ETag")
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i, s := range []*server{a, b, c} {
		wg.Go(func() {
			codes[i], _, _ = s.raw(t, http.MethodPut, exemptionPath("race"), fmt.Sprintf(`{"properties":{"policyAssignmentId":"%s","exemptionCategory":"Mitigated","description":"writer %d"}}`, assignment, i), "If-Match", etag)
		})
	}
	wg.Wait()
	won := 0
	for _, code := range codes {
		switch code {
		case http.StatusOK:
			won++
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("concurrent PUT with If-Match: %d", code)
		}
	}
	if won != 1 {
		t.Errorf("concurrent PUTs with one ETag on three replicas: %v, want exactly one 200", codes)
	}
	if code, _, body := b.raw(t, http.MethodDelete, exemptionPath("race"), ""); code != http.StatusOK {
		t.Fatalf("DELETE race: %d %s", code, body)
	}
	for name, s := range map[string]*server{"A": a, "B": b, "C": c} {
		if ok, got := within(time.Second, func() (bool, string) {
			x := s.score(t, sub)
			return x == restored, x
		}); !ok {
			t.Errorf("replica %s after the race exemption's delete: score %s, want %s", name, got, restored)
		}
	}

	// A token made through A works through B; revoked through A, B refuses
	// it within half a second: replicas remember token checks for a second,
	// and forget them when the change log names an identity change.
	caller := rbacNewCaller(t, a, "repl-user", "Replica user", "User")
	// Authenticated: 403 without a role, not 401.
	if code, _ := b.rbacAs(t, caller, http.MethodGet, "/subscriptions?api-version=2022-12-01", ""); code != http.StatusForbidden {
		t.Errorf("replica B with a token made through A: %d, want 403 (no role)", code)
	}
	if code, _, body := a.raw(t, http.MethodDelete, "/providers/Posture.Identity/principals/repl-user/tokens/ci-repl-user?api-version="+rbacIdentityVersion, ""); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if ok, got := within(500*time.Millisecond, func() (bool, string) {
		code, _ := b.rbacAs(t, caller, http.MethodGet, "/subscriptions?api-version=2022-12-01", "")
		return code == http.StatusUnauthorized, fmt.Sprint(code)
	}); !ok {
		t.Errorf("replica B half a second after A revoked the token: %s, want 401", got)
	}

	// One leader.
	leaders := 0
	for _, s := range []*server{a, b, c} {
		if strings.Contains(s.err.String(), "this replica leads the singleton jobs") {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("%d replicas lead, want 1", leaders)
	}

	// An expiry is recorded once, whichever replicas notice it.
	expires := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	code, _, body = b.raw(t, http.MethodPut, exemptionPath("brief"), `{"properties":{"policyAssignmentId":"`+assignment+`","exemptionCategory":"Waiver","expiresOn":"`+expires.Format(time.RFC3339)+`"}}`)
	if code != http.StatusCreated {
		t.Fatalf("PUT brief: %d %s", code, body)
	}
	time.Sleep(time.Until(expires) + 1500*time.Millisecond)
	for _, s := range []*server{a, b, c} { // each API call runs the expiry check
		s.score(t, sub)
	}
	var hist struct{ Value []struct{ Kind string } }
	if err := json.Unmarshal(c.get(t, sub+"/providers/Microsoft.Authorization/policyExemptions/brief/history?api-version=2022-07-01-preview"), &hist); err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, e := range hist.Value {
		if e.Kind == "Expired" {
			expired++
		}
	}
	if expired != 1 {
		t.Errorf("history of an expired exemption on three replicas: %+v, want one Expired", hist.Value)
	}
	for name, s := range map[string]*server{"A": a, "B": b, "C": c} {
		if ok, got := within(time.Second, func() (bool, string) {
			x := s.score(t, sub)
			return x == restored, x
		}); !ok {
			t.Errorf("replica %s after the expiry: score %s, want %s", name, got, restored)
		}
	}
}

// A replica on PostgreSQL that made its own session, link or ledger key
// says so at start: the others would refuse its sign-ins, links and
// checkpoints. One given every key says nothing.
func TestUnsharedKeysWarning(t *testing.T) {
	t.Setenv("POSTURE_LEDGER_KEY", "")
	dbURL := pgtest.Schema(t, "keys")
	warned := func(s *server) []string {
		var keys []string
		for _, k := range []string{"POSTURE_SESSION_KEY", "POSTURE_LINK_KEY", "POSTURE_LEDGER_KEY"} {
			if strings.Contains(s.err.String(), "replicas must share") && strings.Contains(s.err.String(), k) {
				keys = append(keys, k)
			}
		}
		return keys
	}
	own := startServer(t, "--database-url", dbURL)
	if got := warned(own); len(got) != 3 {
		t.Errorf("a replica with keys of its own warned of %v, want all three:\n%s", got, own.err)
	}
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	ledgerFile := filepath.Join(t.TempDir(), "ledger.key")
	shared := startReplica(t, own, dbURL, "--session-key", key, "--link-key", key, "--ledger-key-file", ledgerFile)
	if got := warned(shared); len(got) != 0 {
		t.Errorf("a replica given every key warned of %v:\n%s", got, shared.err)
	}
}

func TestAdvertiseURL(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, c := range []struct {
		flag string
		addr net.Addr
		want string // "!": a usage error
	}{
		{"", tcp("127.0.0.1:8080"), "http://127.0.0.1:8080"},
		{"", tcp("10.1.2.3:9000"), "http://10.1.2.3:9000"},
		{"", tcp("[::1]:8080"), "http://[::1]:8080"},
		{"", tcp("0.0.0.0:8080"), ""}, // others reach it how? Not said.
		{"", tcp("[::]:8080"), ""},
		{"none", tcp("127.0.0.1:8080"), ""},
		{"https://posture-1.internal:8443", tcp("0.0.0.0:8443"), "https://posture-1.internal:8443"},
		{"http://posture-1.internal:8080/", tcp("0.0.0.0:8080"), "http://posture-1.internal:8080"},
		{"posture-1:8080", tcp("0.0.0.0:8080"), "!"},
		{"ftp://posture-1", tcp("0.0.0.0:8080"), "!"},
		{"http://posture-1:8080/api", tcp("0.0.0.0:8080"), "!"},
		{"http://user:pw@posture-1:8080", tcp("0.0.0.0:8080"), "!"},
	} {
		got, err := advertiseURL(c.flag, c.addr)
		if c.want == "!" {
			if _, ok := err.(usageError); !ok {
				t.Errorf("advertiseURL(%q): %q, %v; want a usage error", c.flag, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("advertiseURL(%q, %v) = %q, %v; want %q", c.flag, c.addr, got, err, c.want)
		}
	}
}

// When the leader is gone, a follower's writes are its own again: the
// connection to the leader's announced URL is refused, so it writes
// itself (and, within seconds, leads).
func TestForwardLeaderGone(t *testing.T) {
	dbURL := pgtest.Schema(t, "leadergone")
	a := startServer(t, "--database-url", dbURL, "--demo")
	b := startReplica(t, a, dbURL)
	const sub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	put := func(s *server, name string) (int, string) {
		code, _, body := s.raw(t, http.MethodPut, sub+"/providers/Microsoft.Authorization/policyExemptions/"+name+"?api-version=2022-07-01-preview",
			`{"properties":{"policyAssignmentId":"`+sub+`/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn","exemptionCategory":"Mitigated"}}`)
		return code, string(body)
	}
	if code, body := put(b, "while-a-leads"); code != http.StatusCreated {
		t.Fatalf("PUT through B while A leads: %d %s", code, body)
	}
	if !strings.Contains(b.err.String(), `"route":"forwarded"`) {
		t.Fatalf("B did not forward its write to A, the leader:\n%s", b.err)
	}
	a.stop()
	code := <-a.exit
	a.exit <- code // for the cleanup
	if code, body := put(b, "after-a"); code != http.StatusCreated {
		t.Fatalf("PUT through B once A is gone: %d %s", code, body)
	}
	if !strings.Contains(b.err.String(), "the leader refused a forwarded write") {
		t.Errorf("B does not say it wrote itself:\n%s", b.err)
	}
	if code, _, body := b.raw(t, http.MethodGet, sub+"/providers/Microsoft.Authorization/policyExemptions/after-a?api-version=2022-07-01-preview", ""); code != http.StatusOK {
		t.Errorf("GET through B of its own write: %d %s", code, body)
	}
}
