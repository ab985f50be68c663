package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkPortalPages measures each portal page as a signed-in Owner
// sees it, over loopback HTTP (so a little more than the server's time),
// and reports p50 and p99 in milliseconds. The demo estate by default;
// POSTURE_BENCH_RESOURCES=100000 generates and imports a synthetic estate
// of that size first:
//
//	go test ./cmd/posture -run '^$' -bench PortalPages -benchtime 200x
//	POSTURE_BENCH_RESOURCES=100000 go test ./cmd/posture -run '^$' -bench PortalPages -benchtime 50x -timeout 60m
func BenchmarkPortalPages(b *testing.B) {
	var s *server
	if n, _ := strconv.Atoi(os.Getenv("POSTURE_BENCH_RESOURCES")); n > 0 {
		dir, data := b.TempDir(), b.TempDir()
		start := time.Now()
		for _, args := range [][]string{
			{"demo", "generate", "--resources", strconv.Itoa(n), "--out", dir},
			{"import", "--direct", "--data", data, dir},
		} {
			if code := Main(context.Background(), args, &IO{Out: &safeBuffer{}, Err: &safeBuffer{}}); code != 0 {
				b.Fatalf("%v: exit %d", args, code)
			}
		}
		b.Logf("generated and imported %d resources in %v", n, time.Since(start).Round(time.Second))
		serverStartTimeout = 20 * time.Minute
		s = startServerIn(b, data)
	} else {
		s = startServer(b, "--demo")
	}
	key, sub, resources := benchRecommendation(b, s)
	exemption := resources[0] + "/providers/Microsoft.Authorization/policyExemptions/bench"
	if code, _, body := s.raw(b, http.MethodPut, exemption+"?api-version=2022-07-01-preview", `{"properties":{"policyAssignmentId":"/subscriptions/`+sub+
		`/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn","policyDefinitionReferenceIds":[`+benchRef(b, s, key)+`],"exemptionCategory":"Mitigated","displayName":"bench"}}`); code >= 300 {
		b.Fatalf("exemption: %d %s", code, body)
	}
	br := signIn(b, s, s.token)
	seed := "securityresources | where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt' | extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName | project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason"
	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"recommendations", "/recommendations"},
		{"recommendation", "/recommendations/" + key + "?tab=unhealthy"},
		{"exempt-form", "/exempt?key=" + key + "&resource=" + url.QueryEscape(resources[1])},
		{"exemptions", "/exemptions"},
		{"exemption", "/exemptions/view?id=" + url.QueryEscape(exemption)},
		{"approvals", "/approvals"},
		{"resource", "/resource?id=" + url.QueryEscape(resources[0])},
		{"query-seed", "/query?q=" + url.QueryEscape(seed)},
		{"audit", "/audit"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			br.t = b
			var ds []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if code, _, body := br.get(p.path); code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", p.path, code, between(body, "<main", "</main>"))
				}
				ds = append(ds, time.Since(t0))
			}
			slices.Sort(ds)
			b.ReportMetric(ms(ds[len(ds)/2]), "p50-ms")
			b.ReportMetric(ms(ds[min(len(ds)-1, len(ds)*99/100)]), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchRecommendation is a recommendation with two unhealthy resources in
// one subscription.
func benchRecommendation(b testing.TB, s *server) (key, sub string, resources []string) {
	rows := s.rbacGraphRows(b, s.token, `securityresources | where type == 'microsoft.security/assessments' and properties.status.code == 'Unhealthy'
		| summarize n = count(), ids = make_list(tostring(properties.resourceDetails.Id), 2) by name, subscriptionId | where n >= 2 | order by n desc | take 1`)
	if len(rows) != 1 {
		b.Fatalf("no recommendation with two unhealthy resources")
	}
	for _, id := range rows[0]["ids"].([]any) {
		resources = append(resources, id.(string))
	}
	return rows[0]["name"].(string), rows[0]["subscriptionId"].(string), resources
}

// benchRef is the quoted reference id of a recommendation in the
// benchmark initiative (from an assessment's additional data).
func benchRef(b testing.TB, s *server, key string) string {
	rows := s.rbacGraphRows(b, s.token, `securityresources | where type == 'microsoft.security/assessments' and name == '`+key+`' | take 1 | project ref = tostring(properties.additionalData.policyDefinitionReferenceId)`)
	if len(rows) != 1 {
		b.Fatal("no reference id")
	}
	return strconv.Quote(rows[0]["ref"].(string))
}
