package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posture/posture/sqlite"
)

// TestAuditLedger: every change lands in the ledger; `posture audit verify`
// passes on the store, through the server and on an export, and names the
// first broken link once a row is edited behind posture's back.
func TestAuditLedger(t *testing.T) {
	s := startServer(t, "--demo", "--checkpoint-every", "2")
	sub := "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	cli := func(args ...string) (int, string) {
		out, errOut := &safeBuffer{}, &safeBuffer{}
		code := Main(context.Background(), args, &IO{Out: out, Err: errOut})
		return code, out.String() + errOut.String()
	}
	// A few changes and a denial.
	if code, out := cli("principal", "create", "--server", s.url, "--data", s.data, "--id", "dave", "--name", "Dave"); code != 0 {
		t.Fatalf("principal create: %s", out)
	}
	code, tok := cli("token", "create", "--server", s.url, "--data", s.data, "--principal", "dave")
	if code != 0 {
		t.Fatalf("token create: %s", tok)
	}
	secret := strings.TrimSpace(strings.Split(tok, "\n")[0])
	if code, out := cli("role", "assign", "--server", s.url, "--data", s.data, "--principal", "dave", "--role", "Security Reader", "--scope", sub); code != 0 {
		t.Fatalf("role assign: %s", out)
	}
	if code, _, body := s.raw(t, "PUT", sub+"/resourceGroups/dave-rg?api-version=2022-12-01", `{"location":"westeurope"}`, bearerHeader(secret)...); code != 403 {
		t.Fatalf("Security Reader writing a resource group: %d %s", code, body)
	}
	if code, out := cli("role", "list", "--server", s.url, "--data", s.data, "--scope", sub, "--principal", "dave"); code != 0 || !strings.Contains(out, "Security Reader") {
		t.Errorf("role list: %d %s", code, out)
	}

	// The activity log of the subscription has the assignment and the
	// denial, in Azure's shape.
	var log struct {
		Value []struct {
			OperationName struct{ Value string }
			Status        struct{ Value string }
			Caller        string
			ResourceID    string `json:"resourceId"`
			Properties    map[string]string
		}
	}
	json.Unmarshal(s.get(t, sub+"/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter="+
		"eventTimestamp%20ge%20'2020-01-01T00:00:00Z'%20and%20eventTimestamp%20le%20'2100-01-01T00:00:00Z'"), &log)
	var assigned, denied bool
	for _, e := range log.Value {
		switch {
		case e.OperationName.Value == "Microsoft.Authorization/roleAssignments/write" && e.Status.Value == "Succeeded":
			assigned = true
		case e.OperationName.Value == "Microsoft.Resources/subscriptions/resourceGroups/write" && e.Status.Value == "Failed" && e.Caller == "dave":
			denied = e.ResourceID == sub+"/resourceGroups/dave-rg" && e.Properties["kind"] == "Denied"
		}
	}
	if !assigned || !denied {
		t.Errorf("activity log: assignment %v, denial %v\n%+v", assigned, denied, log.Value)
	}

	// The KQL table has the same entries; rows follow read rights.
	q := `{"query":"auditevents | where properties.kind == 'Denied' | project caller = tostring(properties.caller), action = tostring(properties.action)"}`
	code, _, body := s.raw(t, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", q)
	if code != 200 || !strings.Contains(string(body), `"caller":"dave","action":"Microsoft.Resources/subscriptions/resourceGroups/write"`) {
		t.Errorf("auditevents as Owner: %d %s", code, body)
	}
	// Security Reader's actions grant no Posture.Audit read: no rows.
	code, _, body = s.raw(t, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", q, bearerHeader(secret)...)
	if code != 200 || !strings.Contains(string(body), `"totalRecords":0`) {
		t.Errorf("auditevents as Security Reader: %d %s", code, body)
	}

	for _, args := range [][]string{
		{"audit", "verify", "--data", s.data},
		{"audit", "verify", "--data", s.data, "--server", s.url},
	} {
		if code, out := cli(args...); code != 0 || !strings.Contains(out, "ok: the ledger verifies") || !strings.Contains(out, "checkpoints verified") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	export := filepath.Join(t.TempDir(), "ledger.jsonl")
	if code, out := cli("audit", "export", "--data", s.data, "--server", s.url, "-o", export); code != 0 {
		t.Fatalf("export: %s", out)
	}
	if code, out := cli("audit", "verify", "--data", s.data, "--file", export); code != 0 || !strings.Contains(out, "ok:") {
		t.Errorf("verify export: %d %s", code, out)
	}

	// Edit one entry in the database, as someone with access to it could.
	store, err := sqlite.Open(context.Background(), s.data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.DB().Exec(`UPDATE events SET actor = 'mallory' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	store.Close()
	code, out := cli("audit", "verify", "--data", s.data)
	if code != 1 || !strings.Contains(out, "BROKEN at seq 3: edited") {
		t.Errorf("verify after an edit: exit %d\n%s", code, out)
	}
	// The export taken before the edit still verifies: it is evidence.
	if code, out := cli("audit", "verify", "--data", s.data, "--file", export); code != 0 {
		t.Errorf("the earlier export: %d %s", code, out)
	}
}
