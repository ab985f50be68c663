package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/kql"
)

// MaxTop is ARG's largest page.
const MaxTop = 1000

// Query implements posture.GraphService.
func (g *Service) Query(ctx context.Context, q *posture.GraphQuery) (*posture.GraphResult, error) {
	if g.OnQuery == nil {
		return g.query(ctx, q)
	}
	start := time.Now()
	out, err := g.query(ctx, q)
	rows := 0
	if out != nil {
		rows = int(out.TotalRecords)
	}
	g.OnQuery(ctx, rows, err, time.Since(start))
	return out, err
}

func (g *Service) query(ctx context.Context, q *posture.GraphQuery) (*posture.GraphResult, error) {
	if !g.ready.Load() {
		return nil, posture.Errorf(posture.EUNAVAILABLE, "ServiceUnavailable", "The Resource Graph tables are still loading; retry in a few seconds.")
	}
	top := q.Top
	switch {
	case top == 0:
		top = MaxTop
	case top < 0 || top > MaxTop:
		return nil, badRequest("InvalidTop", "The $top option must be between 1 and 1000.")
	}
	if q.Skip < 0 {
		return nil, badRequest("InvalidSkip", "The $skip option must not be negative.")
	}
	if len(q.Subscriptions) > 0 && len(q.ManagementGroups) > 0 {
		return nil, badRequest("InvalidScopes", "A query names subscriptions or management groups, not both.")
	}
	parsed, err := kql.Parse(q.Query, kql.ParseOptions{})
	if err != nil {
		return nil, queryError(err)
	}
	if strings.Contains(strings.ToLower(q.Query), "auditevents") {
		if err := g.syncLedger(ctx); err != nil {
			return nil, err
		}
	}
	key := cacheKey(q)
	var res *kql.Result
	skip := q.Skip
	if q.SkipToken != "" {
		tok, err := decodeToken(q.SkipToken)
		if err != nil || tok.Key != key {
			return nil, badRequest("InvalidSkipToken", "The $skipToken does not belong to this query; send the same query, scopes and options.")
		}
		skip = tok.Skip
		res = g.results.get(tok.ID)
	}
	id := ""
	if res == nil {
		res, err = parsed.Run(ctx, g.db.Snapshot(), kql.RunOptions{Timeout: g.Timeout, Filter: g.rowFilter(q), Now: g.Now})
		if err != nil {
			return nil, queryError(err)
		}
	}
	// take/limit/top disable paging, as in ARG.
	paged := !parsed.LimitsRows()
	if !paged {
		skip = 0
	}
	out := &posture.GraphResult{TotalRecords: int64(res.Len())}
	var data bytes.Buffer
	switch strings.ToLower(q.ResultFormat) {
	case "", "objectarray":
		err = res.WriteObjectArray(&data, skip, top)
	case "table":
		err = res.WriteTable(&data, skip, top)
	default:
		return nil, badRequest("InvalidResultFormat", "resultFormat must be 'objectArray' or 'table'.")
	}
	if err != nil {
		return nil, queryError(err)
	}
	out.Data = data.Bytes()
	out.Count = max(0, min(top, res.Len()-skip))
	if next := skip + out.Count; next < res.Len() {
		if paged {
			id = g.results.put(res)
			out.SkipToken = encodeToken(token{Key: key, ID: id, Skip: next})
		} else {
			out.Truncated = true
		}
	}
	for _, f := range q.Facets {
		out.Facets = append(out.Facets, g.facet(ctx, q, f))
	}
	return out, nil
}

// rowFilter turns the request's scopes and the caller's readable scopes
// into the engine's row filter.
func (g *Service) rowFilter(q *posture.GraphQuery) *kql.RowFilter {
	var f *kql.RowFilter
	if len(q.Subscriptions) > 0 {
		f = kql.SubscriptionFilter(lowerAll(q.Subscriptions)...)
	}
	if len(q.ManagementGroups) > 0 {
		f = &kql.RowFilter{}
		for _, mg := range q.ManagementGroups {
			key := armid.ManagementGroupScope(mg).Key()
			f.Scopes = append(f.Scopes, key)
			f.Subscriptions = append(f.Subscriptions, g.subscriptionsUnder(key)...)
		}
	}
	if r := q.Readable; r != nil && !r.All {
		readable := &kql.RowFilter{Subscriptions: r.Subscriptions, Scopes: r.Scopes, Allow: r.Allow}
		if f == nil {
			return readable
		}
		// Both must admit a row.
		inner, outer := f, readable
		return &kql.RowFilter{Allow: func(id string) bool { return admits(inner, id) && admits(outer, id) }}
	}
	return f
}

// admits evaluates a row filter for one id (used when two filters combine).
func admits(f *kql.RowFilter, id string) bool {
	key := strings.ToLower(id)
	if sub := subscriptionOf(key); sub != "" {
		for _, s := range f.Subscriptions {
			if strings.EqualFold(s, sub) {
				return true
			}
		}
	}
	for _, s := range f.Scopes {
		if key == s || strings.HasPrefix(key, s+"/") {
			return true
		}
	}
	return f.Allow != nil && f.Allow(id)
}

func subscriptionOf(key string) string {
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return sub
}

// subscriptionsUnder returns the subscriptions a management group holds.
func (g *Service) subscriptionsUnder(mgKey string) []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []string
	for sub, parent := range g.subParent {
		for hops := 0; parent != "" && hops < 64; hops++ {
			if parent == mgKey {
				out = append(out, subscriptionOf(sub))
				break
			}
			parent = g.mgs[parent].parent
		}
	}
	return out
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// facet runs one facet: a summary of an expression over the query's rows.
func (g *Service) facet(ctx context.Context, q *posture.GraphQuery, f posture.GraphFacet) json.RawMessage {
	fail := func(err error) json.RawMessage {
		code, msg := "InvalidQuery", err.Error()
		var ke *kql.Error
		if errors.As(err, &ke) {
			code, msg = string(ke.Code), ke.Message
		}
		b, _ := json.Marshal(map[string]any{"expression": f.Expression, "resultType": "FacetError",
			"errors": []map[string]string{{"code": code, "message": msg}}})
		return b
	}
	top := f.Top
	if top <= 0 {
		top = 10
	}
	if top > MaxTop {
		return fail(errors.New("the facet's $top must be between 1 and 1000"))
	}
	order := strings.ToLower(f.SortOrder)
	if order == "" {
		order = "desc"
	}
	if order != "asc" && order != "desc" {
		return fail(errors.New("sortOrder must be 'asc' or 'desc'"))
	}
	text := q.Query
	if f.Filter != "" {
		text += "\n| where " + f.Filter
	}
	sortBy := f.SortBy
	if sortBy == "" {
		sortBy = "count"
	}
	text += "\n| summarize count = count() by " + f.Expression + "\n| sort by " + sortBy + " " + order + "\n| take " + strconv.Itoa(top)
	parsed, err := kql.Parse(text, kql.ParseOptions{})
	if err != nil {
		return fail(err)
	}
	res, err := parsed.Run(ctx, g.db.Snapshot(), kql.RunOptions{Timeout: g.Timeout, Filter: g.rowFilter(q), Now: g.Now})
	if err != nil {
		return fail(err)
	}
	var data bytes.Buffer
	if err := res.WriteObjectArray(&data, 0, top); err != nil {
		return fail(err)
	}
	b, _ := json.Marshal(map[string]any{"expression": f.Expression, "resultType": "FacetResult",
		"totalRecords": res.Len(), "count": res.Len(), "data": json.RawMessage(data.Bytes())})
	return b
}

// queryError turns an engine error into ARG's error: 400 BadRequest with
// the details InvalidQuery and the engine's own code, line and column.
func queryError(err error) error {
	var ke *kql.Error
	if !errors.As(err, &ke) {
		return posture.Internal(err)
	}
	if ke.Code == kql.CodeInternal {
		return posture.Internal(err)
	}
	detail := &posture.Error{Code: string(ke.Code), Message: ke.Message}
	if ke.Line > 0 {
		detail.Info = map[string]any{"line": ke.Line, "characterPositionInLine": ke.Column}
	}
	for _, d := range ke.Details {
		if len(ke.Details) < 2 {
			break // the one error is the detail itself
		}
		e := &posture.Error{Code: string(d.Code), Message: d.Message}
		if d.Line > 0 {
			e.Info = map[string]any{"line": d.Line, "characterPositionInLine": d.Column}
		}
		detail.Details = append(detail.Details, e)
	}
	return &posture.Error{
		Kind:    posture.EINVALID,
		Code:    "BadRequest",
		Message: "Please provide below info when asking for support: the query and this error. " + ke.Message,
		Details: []*posture.Error{
			{Code: "InvalidQuery", Message: "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying."},
			detail,
		},
	}
}

func badRequest(code, msg string) error {
	return &posture.Error{Kind: posture.EINVALID, Code: "BadRequest", Message: msg, Details: []*posture.Error{{Code: code, Message: msg}}}
}

// token is the content of a $skipToken: which query (a digest of the
// request), which cached result, and where the next page starts.
type token struct {
	Key  string `json:"k"`
	ID   string `json:"r"`
	Skip int    `json:"s"`
}

func encodeToken(t token) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (token, error) {
	var t token
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil || t.Skip < 0 {
		return t, errors.New("bad token")
	}
	return t, nil
}

// cacheKey identifies a request for paging: the same query, scopes and
// format must come back with a token.
func cacheKey(q *posture.GraphQuery) string {
	b, _ := json.Marshal([]any{q.Query, lowerAll(q.Subscriptions), lowerAll(q.ManagementGroups), strings.ToLower(q.ResultFormat), strings.ToLower(q.Principal)})
	sum := fnv64(b)
	return strconv.FormatUint(sum, 36)
}

func fnv64(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// resultCache keeps recent results for their next pages, so that paging
// walks one snapshot of the tables (stable across pages) without
// re-running the query. A page whose result was evicted re-runs it.
type resultCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	res     *kql.Result
	expires time.Time
}

const (
	cacheSize = 32
	cacheTTL  = 10 * time.Minute
)

func (c *resultCache) put(res *kql.Result) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cacheEntry{}
	}
	now := time.Now()
	for id, e := range c.entries {
		if now.After(e.expires) {
			delete(c.entries, id)
		}
	}
	for len(c.entries) >= cacheSize {
		var oldest string
		for id, e := range c.entries {
			if oldest == "" || e.expires.Before(c.entries[oldest].expires) {
				oldest = id
			}
		}
		delete(c.entries, oldest)
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	c.entries[id] = cacheEntry{res: res, expires: now.Add(cacheTTL)}
	return id
}

func (c *resultCache) get(id string) *kql.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || time.Now().After(e.expires) {
		return nil
	}
	return e.res
}
