package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/posture/posture"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/consistency"
	"github.com/posture/posture/internal/pgtest"
	"github.com/posture/posture/sqlite"
)

// demoSub is the demo's "Contoso Production".
const demoSub = "ce4b1091-e228-4a73-bfe9-32528bfbdb4d"

// exemptSome writes exemptions on a demo server: a Waiver on a resource
// group and a Mitigated one on a resource, and deletes a third.
func exemptSome(t *testing.T, s *server) {
	t.Helper()
	assignment := "/subscriptions/" + demoSub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	var page struct{ Value []struct{ ID string } }
	if err := json.Unmarshal(s.get(t, "/subscriptions/"+demoSub+"/resources?api-version=2022-12-01&$top=3"), &page); err != nil || len(page.Value) < 3 {
		t.Fatalf("demo resources: %v %d", err, len(page.Value))
	}
	rg := strings.Join(strings.Split(page.Value[0].ID, "/")[:5], "/")
	expires := time.Now().UTC().Add(10 * 24 * time.Hour).Format(time.RFC3339)
	for _, w := range []struct{ scope, props string }{
		{rg, fmt.Sprintf(`"exemptionCategory":"Waiver","expiresOn":%q`, expires)},
		{page.Value[1].ID, `"exemptionCategory":"Mitigated"`},
		{page.Value[2].ID, `"exemptionCategory":"Mitigated"`},
	} {
		code, _, b := s.raw(t, "PUT", w.scope+"/providers/Microsoft.Authorization/policyExemptions/check-test?api-version=2022-07-01-preview",
			fmt.Sprintf(`{"properties":{"policyAssignmentId":%q,%s}}`, assignment, w.props))
		if code != http.StatusCreated {
			t.Fatalf("PUT exemption: %d %s", code, b)
		}
	}
	if code, _, b := s.raw(t, "DELETE", page.Value[2].ID+"/providers/Microsoft.Authorization/policyExemptions/check-test?api-version=2022-07-01-preview", ""); code != http.StatusOK {
		t.Fatalf("DELETE exemption: %d %s", code, b)
	}
}

// check runs posture check in this process and returns its exit code,
// its report (-o json) and its standard error.
func check(t *testing.T, args ...string) (int, *consistency.Report, string) {
	t.Helper()
	out, errOut := &safeBuffer{}, &safeBuffer{}
	code := Main(context.Background(), append([]string{"check", "-o", "json"}, args...), &IO{Out: out, Err: errOut})
	var rep consistency.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("posture check exited %d without a JSON report (%v):\n%s\n%s", code, err, out, errOut)
	}
	return code, &rep, errOut.String()
}

// stopServer stops an in-process server and waits for it.
func stopServer(t *testing.T, s *server) {
	t.Helper()
	s.stop()
	select {
	case code := <-s.exit:
		s.exit <- code // for startServerIn's cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("serve does not stop")
	}
}

func TestCheckConsistent(t *testing.T) {
	s := startServer(t, "--demo")
	exemptSome(t, s)
	// Beside the running server: one snapshot.
	code, rep, errOut := check(t, "--data", s.data)
	if code != 0 || !rep.Consistent {
		t.Fatalf("check of a server's store: exit %d, consistent %v: %s\n%+v", code, rep.Consistent, errOut, rep.States.Diffs)
	}
	if rep.States.Assignments != 3 || rep.States.Exemptions != 2 || rep.States.Rows == 0 || rep.States.States < rep.States.Rows {
		t.Errorf("states checked: %+v", rep.States)
	}
	if rep.Defender.Subscriptions != 3 || len(rep.Defender.Scores) != 3 || rep.Defender.Assessments == 0 {
		t.Errorf("defender checked: %+v", rep.Defender)
	}
	// The scores check reports are the server's.
	for _, sc := range rep.Defender.Scores {
		var doc struct {
			Properties struct {
				Score struct{ Current float64 }
			}
		}
		json.Unmarshal(s.get(t, sc.Subscription+"/providers/Microsoft.Security/secureScores/ascScore?api-version=2020-01-01"), &doc)
		if doc.Properties.Score.Current != sc.Stored.Current || sc.Stored != sc.Fresh || sc.Stored.Max == 0 {
			t.Errorf("score of %s: server %v, check %+v", sc.Subscription, doc.Properties.Score.Current, sc)
		}
	}
	// 3 PUTs and a DELETE, each an entry; the key in --data checks the
	// checkpoints.
	if rep.Ledger.Entries < 4 || rep.Ledger.Broken != "" || rep.Ledger.ChainOnly {
		t.Errorf("ledger checked: %+v", rep.Ledger)
	}

	// The summary for people.
	out := &safeBuffer{}
	if code := Main(context.Background(), []string{"check", "--data", s.data}, &IO{Out: out, Err: out}); code != 0 ||
		!strings.Contains(out.String(), "ok: the store agrees") || !strings.Contains(out.String(), "0 disagree") {
		t.Errorf("table output (exit %d):\n%s", code, out)
	}
	// No store: a usage error, and none is created.
	empty := t.TempDir()
	if code := Main(context.Background(), []string{"check", "--data", empty}, &IO{Out: out, Err: out}); code != exitUsage {
		t.Errorf("check of an empty directory: exit %d", code)
	}
	if _, err := os.Stat(empty + "/" + sqlite.FileName); err == nil {
		t.Error("check created a store")
	}
}

// TestCheckFindsDisagreements edits a stopped server's store behind its
// back, one disagreement of each kind, and expects check to name each.
func TestCheckFindsDisagreements(t *testing.T) {
	s := startServer(t, "--demo")
	exemptSome(t, s)
	stopServer(t, s)

	ctx := context.Background()
	store, err := sqlite.Open(ctx, s.data, nil)
	if err != nil {
		t.Fatal(err)
	}
	bench := "/subscriptions/" + demoSub + "/providers/microsoft.authorization/policyassignments/securitycenterbuiltin"
	var flipped, unstamped, dropped *posture.ResourceStates
	var flippedRef, unstampedRef string
	err = store.Write(ctx, func(tx posture.Tx) error {
		rows, err := tx.PolicyStates(posture.PolicyStateFilter{AssignmentKey: bench})
		if err != nil {
			return err
		}
		for _, row := range rows {
			for i := range row.States {
				st := &row.States[i]
				switch {
				case flipped == nil && unstamped != row && st.State == posture.StateNonCompliant && st.Exemption == "" && strings.Contains(row.ResourceKey, "/providers/"):
					st.State, flipped, flippedRef = posture.StateCompliant, row, st.ReferenceID
				case unstamped == nil && flipped != row && st.Exemption != "" && (st.State == posture.StateCompliant || st.State == posture.StateNonCompliant):
					st.Exemption, st.ExemptionCategory, st.ExemptUntil = "", "", time.Time{}
					unstamped, unstampedRef = row, st.ReferenceID
				}
			}
		}
		for _, row := range rows {
			if row != flipped && row != unstamped && strings.Contains(row.ResourceKey, "/providers/") &&
				slices.ContainsFunc(row.States, func(st posture.PolicyState) bool { return st.State == posture.StateNonCompliant }) {
				dropped = row
				break
			}
		}
		if flipped == nil || unstamped == nil || dropped == nil {
			return fmt.Errorf("the demo has no state to edit: %v %v %v", flipped, unstamped, dropped)
		}
		ghost := &posture.ResourceStates{ResourceKey: flipped.ResourceKey, ResourceType: flipped.ResourceType, SubscriptionID: flipped.SubscriptionID,
			AssignmentKey: "/subscriptions/" + demoSub + "/providers/microsoft.authorization/policyassignments/deleted-long-ago",
			States:        []posture.PolicyState{{ReferenceID: "", State: posture.StateNonCompliant, Effect: "Audit"}}}
		return tx.PutPolicyStates([]*posture.ResourceStates{flipped, unstamped, {ResourceKey: dropped.ResourceKey, AssignmentKey: dropped.AssignmentKey}, ghost})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.DB().ExecContext(ctx, `UPDATE events SET actor = 'mallory' WHERE seq = (SELECT max(seq) FROM events)`); err != nil {
		t.Fatal(err)
	}
	store.Close()

	code, rep, errOut := check(t, "--data", s.data, "--limit", "1000")
	if code != exitFailure || rep.Consistent || !strings.Contains(errOut, "disagrees") {
		t.Fatalf("check of an edited store: exit %d, consistent %v, %s", code, rep.Consistent, errOut)
	}
	found := map[string]bool{}
	for _, d := range rep.States.Diffs {
		switch {
		case d.Problem == compliance.ProblemState && d.ResourceKey == flipped.ResourceKey && d.ReferenceID == flippedRef:
			if d.Stored != posture.StateCompliant || d.Fresh != posture.StateNonCompliant {
				t.Errorf("flipped state: %+v", d)
			}
			found["state"] = true
		case d.Problem == compliance.ProblemExemption && d.ResourceKey == unstamped.ResourceKey && d.ReferenceID == unstampedRef:
			if d.Stored != "none" || !strings.Contains(d.Fresh, "check-test") {
				t.Errorf("unstamped state: %+v", d)
			}
			found["exemption"] = true
		case d.Problem == compliance.ProblemMissing && d.ResourceKey == dropped.ResourceKey:
			found["missing"] = true
		case d.Problem == compliance.ProblemExtra && strings.HasSuffix(d.AssignmentKey, "/deleted-long-ago"):
			found["extra"] = true
		default:
			t.Errorf("a disagreement nobody made: %s", d)
		}
	}
	if len(found) != 4 {
		t.Errorf("found %v of state, exemption, missing, extra:\n%+v", found, rep.States.Diffs)
	}
	if want := 1 + 1 + len(dropped.States) + 1; rep.States.Disagreements != want {
		t.Errorf("%d state disagreements, want %d", rep.States.Disagreements, want)
	}
	// Defender from the stored states: the flipped resource's assessment
	// is Healthy where a fresh evaluation says Unhealthy, the dropped
	// resource lacks assessments, and the scores of the subscription move.
	defFound := map[string]bool{}
	for _, d := range rep.Defender.Diffs {
		lower := strings.ToLower(d.ID)
		switch {
		case d.Problem == consistency.ProblemAssessment && strings.HasPrefix(lower, flipped.ResourceKey+"/"):
			if !strings.HasPrefix(d.Stored, "Healthy") || !strings.HasPrefix(d.Fresh, "Unhealthy") {
				t.Errorf("flipped assessment: %s", d)
			}
			defFound["flipped"] = true
		case d.Problem == consistency.ProblemAssessment && strings.HasPrefix(lower, unstamped.ResourceKey+"/"):
			defFound["unstamped"] = true
		case d.Problem == consistency.ProblemMissing && strings.HasPrefix(lower, dropped.ResourceKey+"/"):
			defFound["dropped"] = true
		case (d.Problem == consistency.ProblemScore || d.Problem == consistency.ProblemControl) && strings.Contains(lower, demoSub):
			defFound["score"] = true
		default:
			t.Errorf("a Defender disagreement nobody made: %s", d)
		}
	}
	if len(defFound) != 4 {
		t.Errorf("found %v of flipped, unstamped, dropped, score:\n%+v", defFound, rep.Defender.Diffs)
	}
	if !strings.Contains(rep.Ledger.Broken, "edited") {
		t.Errorf("ledger: %+v", rep.Ledger)
	}

	// --limit bounds the list, not the count.
	code, short, _ := check(t, "--data", s.data, "--limit", "2")
	if code != exitFailure || len(short.States.Diffs) != 2 || short.States.Disagreements != rep.States.Disagreements || len(short.Defender.Diffs) != 2 {
		t.Errorf("--limit 2: exit %d, %d of %d listed", code, len(short.States.Diffs), short.States.Disagreements)
	}
}

// TestCheckPostgres checks a PostgreSQL store beside its running server.
func TestCheckPostgres(t *testing.T) {
	dbURL := pgtest.Schema(t, "check")
	s := startServer(t, "--demo", "--database-url", dbURL)
	exemptSome(t, s)
	code, rep, errOut := check(t, "--data", s.data, "--database-url", dbURL)
	if code != 0 || !rep.Consistent || rep.States.Exemptions != 2 || rep.Defender.Assessments == 0 || rep.Ledger.Entries < 4 {
		t.Fatalf("check on PostgreSQL: exit %d %s %+v", code, errOut, rep)
	}
	// A state edited behind the server's back.
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `DELETE FROM policy_states WHERE resource_key = (SELECT max(resource_key) FROM policy_states)`); err != nil {
		t.Fatal(err)
	}
	code, rep, _ = check(t, "--data", s.data, "--database-url", dbURL)
	if code != exitFailure || rep.Consistent || rep.States.Disagreements == 0 || rep.States.Diffs[0].Problem != compliance.ProblemMissing {
		t.Fatalf("check after a deleted row: exit %d %+v", code, rep.States)
	}
}

// TestSnapshotURL: the isolation parameter is percent-encoded (pgx sends
// a '+' as is, and PostgreSQL refuses "repeatable+read").
func TestSnapshotURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/db":                                     "postgres://u:p@h:5432/db?default_transaction_isolation=repeatable%20read",
		"postgres://u:p@h/db?sslmode=disable&options=-c%20a%3Db":       "postgres://u:p@h/db?sslmode=disable&options=-c%20a%3Db&default_transaction_isolation=repeatable%20read",
		"postgresql://h/db?default_transaction_isolation=serializable": "postgresql://h/db?default_transaction_isolation=serializable",
	} {
		if got, err := snapshotURL(in); err != nil || got != want {
			t.Errorf("snapshotURL(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}
