package api

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/audit"
)

// activityLogVersions: the Azure SDKs and CLI send 2015-04-01.
var activityLogVersions = apiVersions{"2015-04-01", "2017-03-01-preview"}

// activityPage bounds one page of the activity log.
const activityPage = 200

func (s *Server) registerAudit() {
	if s.Ledger == nil {
		return
	}
	// GET {subscription or tenant}/providers/Microsoft.Insights/eventtypes/management/values
	s.handle("Microsoft.Insights/eventtypes/values", &typeRoutes{versions: activityLogVersions, list: listActivity})
	s.registerLedgerExport()
}

var activityTermRE = regexp.MustCompile(`(?i)^(eventTimestamp|resourceGroupName|resourceUri|resourceId|caller|resourceProvider|status)\s+(ge|le|eq)\s+'([^']*)'$`)

// listActivity serves the ledger as Azure's activity log: the entries of
// the subscription (or, at the tenant, all of them), oldest first, with
// Azure's $filter terms.
func listActivity(c *call) error {
	if !strings.EqualFold(c.id.Name(), "management") {
		return posture.Errorf(posture.ENOTFOUND, "InvalidResourceType", "Only the 'management' event type is served.")
	}
	scope := c.id.Scope()
	if k := scope.Kind(); k != armid.Subscription && k != armid.Tenant {
		return posture.Errorf(posture.EINVALID, "BadRequest", "The activity log is read at a subscription or at the tenant.")
	}
	f := posture.EventFilter{Limit: activityPage}
	if scope.Kind() == armid.Subscription {
		f.StreamPrefix = scope.Key()
	}
	var provider, status string
	for _, term := range filterTerms(c.param("$filter")) {
		m := activityTermRE.FindStringSubmatch(term)
		if m == nil {
			return posture.Errorf(posture.EINVALID, "BadRequest", "The $filter term '%s' is not supported: use eventTimestamp ge/le, resourceGroupName, resourceUri, caller, resourceProvider or status eq.", clip(term))
		}
		field, op, v := strings.ToLower(m[1]), strings.ToLower(m[2]), m[3]
		if (field == "eventtimestamp") != (op != "eq") {
			return posture.Errorf(posture.EINVALID, "BadRequest", "'%s' takes %s.", m[1], map[bool]string{true: "ge or le", false: "eq"}[field == "eventtimestamp"])
		}
		switch field {
		case "eventtimestamp":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return posture.Errorf(posture.EINVALID, "BadRequest", "eventTimestamp '%s' is not an ISO 8601 time.", clip(v))
			}
			if op == "ge" {
				f.From = t
			} else {
				f.To = t.Add(time.Microsecond) // le is inclusive
			}
		case "resourcegroupname":
			if scope.Kind() != armid.Subscription {
				return posture.Errorf(posture.EINVALID, "BadRequest", "resourceGroupName filters the activity log of a subscription.")
			}
			f.StreamPrefix = scope.Key() + "/resourcegroups/" + strings.ToLower(v)
		case "resourceuri", "resourceid":
			id, err := armid.Parse(v)
			if err != nil {
				return posture.Errorf(posture.EINVALID, "BadRequest", "%s '%s' is not an ARM id.", m[1], clip(v))
			}
			f.StreamPrefix = id.Key()
		case "caller":
			f.Actor = v
		case "resourceprovider":
			provider = v
		case "status":
			status = v
		}
	}
	cur, err := c.cursor()
	if err != nil {
		return err
	}
	if cur != "" {
		if f.After, err = strconv.ParseInt(cur, 10, 64); err != nil {
			return posture.Errorf(posture.EINVALID, "InvalidSkipToken", "The $skipToken is not one posture issued.")
		}
	}
	entries, err := c.s.Ledger.Entries(c.ctx, f)
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, 0, len(entries))
	for _, e := range entries {
		if provider != "" && !strings.EqualFold(audit.Provider(e), provider) || status != "" && !strings.EqualFold(audit.Status(e), status) {
			continue
		}
		docs = append(docs, c.s.Ledger.ActivityEvent(e))
	}
	next := ""
	if len(entries) == activityPage {
		next = strconv.FormatInt(entries[len(entries)-1].Seq, 10)
	}
	return c.list(docs, next)
}

// registerLedgerExport serves GET /providers/Posture.Audit/ledger/default
// ?from=&to=: the ledger in the export format of package ledger (JSON
// lines), for `posture audit verify --server` and `posture audit export`.
// Reading it takes Posture.Audit/ledger/read at the root (Reader there).
func (s *Server) registerLedgerExport() {
	s.handle("Posture.Audit/ledger", &typeRoutes{versions: postureVersions, get: exportLedger})
}

func exportLedger(c *call) error {
	if !strings.EqualFold(c.id.Name(), "default") || !c.id.Scope().IsRoot() {
		return posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The ledger is /providers/Posture.Audit/ledger/default.")
	}
	var r audit.Range
	for name, dst := range map[string]*int64{"from": &r.From, "to": &r.To} {
		if v := c.param(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return posture.Errorf(posture.EINVALID, "InvalidRange", "'%s' must be a positive sequence number.", name)
			}
			*dst = n
		}
	}
	if r.To > 0 && r.From > r.To {
		return posture.Errorf(posture.EINVALID, "InvalidRange", "'from' is after 'to'.")
	}
	c.w.Header().Set("Content-Type", "application/x-ndjson")
	_, err := audit.Export(c.ctx, c.w, c.s.Ledger.Store, r, c.s.Ledger.Keys...)
	return err
}
