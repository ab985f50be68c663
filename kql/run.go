package kql

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"
	"time"
)

// Column is one result or table column.
type Column struct {
	Name string
	Type Type
}

// Limits are the ARG-style structural limits of a query.
type Limits struct {
	MaxJoins          int // joins per query (ARG: 3)
	MaxUnionLegs      int // tables per union, counting the input (ARG: 3, plus the piped input)
	MaxMvExpand       int // mv-expand operators per query (ARG: 3)
	MvExpandRowLimit  int // rows one input row may expand to (ARG default 128)
	MaxMvExpandLimit  int // largest accepted "limit" on mv-expand (ARG: 400)
	MaxRemoteTables   int // distinct non-primary tables joined in (ARG: 1, except Resources↔ResourceContainers)
	AllowedJoinKinds  map[string]bool
	AllowLeftSemiAnti bool
}

// StrictARGLimits returns the limits Azure Resource Graph documents
// (kql.md §1.2): 3 joins, 3 union legs, 3 mv-expand with a 128-row default
// limit (max 400), joins innerunique/inner/leftouter/fullouter only.
func StrictARGLimits() Limits {
	return Limits{
		MaxJoins: 3, MaxUnionLegs: 3, MaxMvExpand: 3, MvExpandRowLimit: 128, MaxMvExpandLimit: 400,
		MaxRemoteTables:  1,
		AllowedJoinKinds: map[string]bool{"innerunique": true, "inner": true, "leftouter": true, "fullouter": true},
	}
}

// RelaxedLimits allows every implemented join flavour and larger limits.
func RelaxedLimits() Limits {
	return Limits{
		MaxJoins: 16, MaxUnionLegs: 64, MaxMvExpand: 16, MvExpandRowLimit: 100_000, MaxMvExpandLimit: 1_000_000,
		MaxRemoteTables: 64,
		AllowedJoinKinds: map[string]bool{"innerunique": true, "inner": true, "leftouter": true, "rightouter": true,
			"fullouter": true, "leftanti": true, "anti": true, "leftantisemi": true, "leftsemi": true,
			"rightanti": true, "rightantisemi": true, "rightsemi": true},
	}
}

// RunOptions control one execution. The zero value is usable: strict ARG
// limits, 30 s timeout, 5,000,000 result rows, 1 GiB of retained memory, no
// row filter and the wall clock.
type RunOptions struct {
	Timeout  time.Duration // default 30 s
	MaxRows  int           // result and intermediate row budget; default 5,000,000
	MaxBytes int64         // approximate memory retained by sort/join/summarize/result; default 1 GiB
	Limits   *Limits       // nil means StrictARGLimits()
	Filter   *RowFilter    // nil means every row is visible
	Now      func() time.Time
	// DefaultTable is read by "where ..." queries with no table; default
	// "Resources" (set at parse time, this overrides nothing).
}

// RowFilter restricts which rows of every table a query sees, for
// authorization. A row is visible when its subscriptionId is in
// Subscriptions (case-insensitive; O(1) per row through the string's
// dictionary code), or its id is at or below one of Scopes (segment-aware,
// case-insensitive: "/subscriptions/s/resourceGroups/rg" admits
// ".../resourceGroups/rg/providers/..." but not ".../resourceGroups/rg2"),
// or Allow returns true for its id. A nil *RowFilter shows everything; a
// non-nil empty one shows nothing.
type RowFilter struct {
	Subscriptions []string
	Scopes        []string
	Allow         func(id string) bool
}

// SubscriptionFilter is a RowFilter for whole subscriptions.
func SubscriptionFilter(ids ...string) *RowFilter { return &RowFilter{Subscriptions: ids} }

// Run executes the query against a snapshot.
func (q *Query) Run(ctx context.Context, snap *Snapshot, opts RunOptions) (res *Result, err error) {
	if q == nil || q.Body == nil {
		return nil, newError(CodeInvalidArgument, "nil query")
	}
	if snap == nil {
		snap = &Snapshot{tables: map[string]*Table{}, dict: NewDict()}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = 5_000_000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	limits := StrictARGLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	st := &execState{ctx: ctx, opts: opts, maxRows: opts.MaxRows, maxBytes: opts.MaxBytes}
	defer func() {
		if r := recover(); r != nil {
			res = nil
			err = recoveredError(r, ctx)
		}
	}()
	c := &compiler{q: q, src: q.text, snap: snap, limits: limits, now: ticksFromTime(now()), filter: opts.Filter, lets: map[string]*letBinding{}, st: st}
	p := c.compileQuery()
	res = collect(st, p)
	return res, nil
}

// recoveredError turns a panic value into the error Run returns: our own
// *Error values pass through, deadline and cancellation become their codes,
// and anything else is an internal error (logged with its stack).
func recoveredError(r any, ctx context.Context) error {
	if e, ok := r.(*Error); ok {
		return e
	}
	if e, ok := r.(error); ok {
		var ke *Error
		if errors.As(e, &ke) {
			return ke
		}
	}
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	return newError(CodeInternal, "internal error: %v\n%s", r, firstLines(string(debug.Stack()), 12))
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func ctxError(ctx context.Context) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return newError(CodeTimeout, "the query exceeded its time limit")
	}
	return newError(CodeCanceled, "the query was canceled")
}

// execState is shared by all operators of one execution.
type execState struct {
	ctx      context.Context
	opts     RunOptions
	maxRows  int
	maxBytes int64
	bytes    int64
	ticks    int
}

// check is called in every loop; every 1024 calls it looks at the context.
func (st *execState) check() {
	st.ticks++
	if st.ticks&1023 == 0 {
		if st.ctx.Err() != nil {
			panic(ctxError(st.ctx))
		}
	}
}

// charge accounts retained memory and rows.
func (st *execState) charge(bytes int64) {
	st.bytes += bytes
	if st.bytes > st.maxBytes {
		panic(newError(CodePayloadTooLarge, "the query needs more than %d bytes of memory; narrow it with where/project or take", st.maxBytes))
	}
}

func (st *execState) chargeRows(n int) {
	if n > st.maxRows {
		panic(newError(CodeRowLimitExceeded, "the query produces more than %d rows", st.maxRows))
	}
}

// LimitsRows reports whether the query's final pipeline uses take, limit or
// top. ARG ignores $skip and returns no $skipToken for such queries.
func (q *Query) LimitsRows() bool {
	if q == nil || q.Body == nil {
		return false
	}
	for _, op := range q.Body.Ops {
		switch op.(type) {
		case *TakeOp, *TopOp:
			return true
		}
	}
	return false
}
