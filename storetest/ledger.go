package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/ledger"
	"github.com/posture/posture/sqlstore"
)

// The ledger cases reach past posture.Store: to set a checkpoint signer and
// to edit rows as an attacker with database access would. Both backends are
// sqlstore.Stores; another implementation skips these cases.

type ledgerSignable interface {
	SetLedgerSigner(sg sqlstore.Signer, every int)
}

type rawDB interface{ DB() *sql.DB }

// signer returns the suite's checkpoint key, fixed so that failures
// reproduce.
func signer() (*ledger.Signer, ed25519.PublicKey) {
	sg := ledger.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	return sg, sg.PublicKey()
}

func setSigner(t testing.TB, s posture.Store, sg sqlstore.Signer, every int) {
	t.Helper()
	ls, ok := s.(ledgerSignable)
	if !ok {
		t.Skipf("%T has no SetLedgerSigner", s)
	}
	ls.SetLedgerSigner(sg, every)
}

// sqlOf returns the store's database and a function that turns a query
// with "?" placeholders into the engine's (PostgreSQL numbers them).
func sqlOf(t testing.TB, s posture.Store) (*sql.DB, func(string) string) {
	t.Helper()
	r, ok := s.(rawDB)
	if !ok {
		t.Skipf("%T gives no *sql.DB", s)
	}
	db := r.DB()
	var v string
	if db.QueryRow(`SELECT sqlite_version()`).Scan(&v) == nil {
		return db, func(q string) string { return q }
	}
	return db, func(q string) string {
		var b strings.Builder
		n := 0
		for _, c := range q {
			if c == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(c)
		}
		return b.String()
	}
}

func mustExec(t testing.TB, s posture.Store, q string, args ...any) {
	t.Helper()
	db, rebind := sqlOf(t, s)
	if _, err := db.ExecContext(context.Background(), rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func appendAll(t testing.TB, s posture.Store, es ...*posture.Event) {
	t.Helper()
	mustWrite(t, s, func(tx posture.Tx) error { return each(es, tx.AppendEvent) })
}

// readLedger returns every entry and checkpoint.
func readLedger(t testing.TB, s posture.Store) ([]*posture.Event, []*posture.LedgerCheckpoint) {
	t.Helper()
	var es []*posture.Event
	var cps []*posture.LedgerCheckpoint
	mustRead(t, s, func(tx posture.Tx) error {
		var err error
		if es, err = tx.Events(posture.EventFilter{}); err != nil {
			return err
		}
		cps, err = tx.Checkpoints(0, 0)
		return err
	})
	return es, cps
}

// verify runs ledger.Verifier over the store's ledger: the checkpoints
// first, then the entries, as its documentation asks.
func verify(t testing.TB, s posture.Store, withCheckpoints bool, keys ...ed25519.PublicKey) ledger.Report {
	t.Helper()
	es, cps := readLedger(t, s)
	v := ledger.NewVerifier(keys...)
	if withCheckpoints {
		for _, cp := range cps {
			if err := v.Checkpoint(*cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range es {
		v.Entry(e)
	}
	return v.Result()
}

func seqs(es []*posture.Event) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func cpSeqs(cps []*posture.LedgerCheckpoint) []int64 {
	out := []int64{}
	for _, c := range cps {
		out = append(out, c.Seq)
	}
	return out
}

// entry returns a ledger entry at clockBase+sec seconds.
func entry(stream, kind, actor string, sec int) *posture.Event {
	return &posture.Event{Stream: stream, Kind: kind, Actor: actor, ActorType: "User", At: clockBase.Add(time.Duration(sec) * time.Second),
		Action: "Microsoft.Authorization/policyExemptions/write", Scope: stream, After: json.RawMessage(`{"n":` + strconv.Itoa(sec) + `}`)}
}

// testLedgerChain: AppendEvent numbers entries 1, 2, 3, … and chains each to
// the one before by ledger.Hash over the row as it reads back.
func testLedgerChain(t *testing.T, b Backend) {
	s := b.Open(t)
	mustRead(t, s, func(tx posture.Tx) error {
		seq, h, err := tx.LedgerHead()
		if seq != 0 || h != nil || err != nil {
			t.Errorf("head of an empty ledger: %d %x %v, want 0, nil", seq, h, err)
		}
		return nil
	})
	cet := time.FixedZone("CET", 3600)
	in := []*posture.Event{
		// No Stream: the store takes lower(Scope). At has nanoseconds and
		// a zone: the store keeps microseconds, in UTC.
		{Kind: posture.EventCreated, Actor: "u1", ActorType: "User", At: clockBase.Add(1234567 * time.Nanosecond).In(cet),
			Action: "Microsoft.Authorization/policyExemptions/write", Scope: "/subscriptions/S1/providers/Microsoft.Authorization/policyExemptions/E1",
			After: json.RawMessage(`{"a":1}`)},
		{Stream: "/own/stream", Kind: posture.EventUpdated, Actor: "u1", ActorType: "User", At: clockBase.Add(time.Second),
			Action: "Microsoft.Authorization/roleAssignments/write", Scope: "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/r1",
			Before: json.RawMessage(`{"a":1}`), After: json.RawMessage(`{}`)},
		{Kind: posture.EventDenied, Actor: "app", ActorType: "Application", At: clockBase.Add(2 * time.Second),
			Action: "Microsoft.Compute/virtualMachines/read", Scope: "/"},
		{Stream: "/e/4", Kind: posture.EventDeleted, Actor: "posture", ActorType: "Application", At: clockBase.Add(3 * time.Second),
			Before: json.RawMessage(`{"b":2}`)},
	}
	want := []struct {
		stream string
		at     time.Time
	}{
		{"/subscriptions/s1/providers/microsoft.authorization/policyexemptions/e1", clockBase.Add(time.Millisecond + 234*time.Microsecond)},
		{"/own/stream", clockBase.Add(time.Second)},
		{"/", clockBase.Add(2 * time.Second)},
		{"/e/4", clockBase.Add(3 * time.Second)},
	}
	appendAll(t, s, in[0], in[1])
	appendAll(t, s, in[2])

	// A rolled-back append leaves the head as it was; its number is used
	// again.
	var head3 []byte
	mustRead(t, s, func(tx posture.Tx) error {
		var seq int64
		var err error
		seq, head3, err = tx.LedgerHead()
		if seq != 3 || !bytes.Equal(head3, in[2].Hash) || err != nil {
			t.Errorf("head after 3 entries: %d %x %v, want 3 %x", seq, head3, err, in[2].Hash)
		}
		return nil
	})
	boom := errors.New("boom")
	err := s.Write(context.Background(), func(tx posture.Tx) error {
		if err := tx.AppendEvent(entry("/e/x", posture.EventCreated, "u9", 9)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled-back write: %v", err)
	}
	mustRead(t, s, func(tx posture.Tx) error {
		seq, h, err := tx.LedgerHead()
		if seq != 3 || !bytes.Equal(h, head3) || err != nil {
			t.Errorf("head after a rolled-back append: %d %x %v, want 3 %x", seq, h, err, head3)
		}
		return nil
	})
	appendAll(t, s, in[3])

	got, _ := readLedger(t, s)
	if !slices.Equal(seqs(got), []int64{1, 2, 3, 4}) {
		t.Fatalf("sequence numbers %v, want [1 2 3 4]", seqs(got))
	}
	var prev []byte
	for i, g := range got {
		w := in[i]
		if !bytes.Equal(g.Prev, prev) {
			t.Errorf("entry %d: Prev %x, want the Hash of the entry before %x", g.Seq, g.Prev, prev)
		}
		if h := ledger.Hash(g.Prev, g); !bytes.Equal(g.Hash, h) {
			t.Errorf("entry %d: Hash %x, ledger.Hash of the row read back %x", g.Seq, g.Hash, h)
		}
		if w.Seq != g.Seq || !bytes.Equal(w.Prev, g.Prev) || !bytes.Equal(w.Hash, g.Hash) {
			t.Errorf("entry %d: AppendEvent set Seq %d Prev %x Hash %x; the row has %d %x %x", g.Seq, w.Seq, w.Prev, w.Hash, g.Seq, g.Prev, g.Hash)
		}
		if g.Stream != want[i].stream || !g.At.Equal(want[i].at) || g.At.Location() != time.UTC {
			t.Errorf("entry %d: stream %q at %v, want %q at %v UTC", g.Seq, g.Stream, g.At, want[i].stream, want[i].at)
		}
		if g.Kind != w.Kind || g.Actor != w.Actor || g.ActorType != w.ActorType || g.Action != w.Action || g.Scope != w.Scope ||
			!bytes.Equal(g.Before, w.Before) || !bytes.Equal(g.After, w.After) || (g.Before == nil) != (w.Before == nil) || (g.After == nil) != (w.After == nil) {
			t.Errorf("entry %d read back as %+v, appended %+v", g.Seq, g, w)
		}
		prev = g.Hash
	}
	if len(got[0].Prev) != 0 {
		t.Errorf("the first entry has a Prev: %x", got[0].Prev)
	}
	if r := verify(t, s, true); r.Broken != nil || r.Entries != 4 || r.Last != 4 || !bytes.Equal(r.Head, got[3].Hash) {
		t.Errorf("verification: %+v", r)
	}
}

// testLedgerCheckpoints: with a signer, a checkpoint is written every N
// entries, signs the entry's hash, is read back within bounds, and the
// ledger verifies with the public key; an edited row, or a rewritten and
// rehashed chain, is found at its sequence number.
func testLedgerCheckpoints(t *testing.T, b Backend) {
	s := b.Open(t)
	sg, pub := signer()
	setSigner(t, s, sg, 2)
	for i := 1; i <= 5; i++ {
		appendAll(t, s, entry("/e/"+strconv.Itoa(i), posture.EventCreated, "u1", i))
	}
	// An append due for a checkpoint that rolls back keeps neither, and
	// the next one writes both.
	_ = s.Write(context.Background(), func(tx posture.Tx) error {
		if err := tx.AppendEvent(entry("/e/x", posture.EventCreated, "u9", 60)); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	appendAll(t, s, entry("/e/6", posture.EventCreated, "u1", 6))

	es, cps := readLedger(t, s)
	if !slices.Equal(cpSeqs(cps), []int64{2, 4, 6}) {
		t.Fatalf("checkpoints at %v, want [2 4 6]", cpSeqs(cps))
	}
	for _, cp := range cps {
		e := es[cp.Seq-1]
		if !ledger.VerifyCheckpoint(pub, *cp) {
			t.Errorf("checkpoint %d does not verify with the signer's key", cp.Seq)
		}
		if !bytes.Equal(cp.Hash, e.Hash) || cp.KeyID != sg.KeyID() || !cp.At.Equal(e.At) {
			t.Errorf("checkpoint %d: hash %x key %s at %v; entry hash %x at %v, key %s", cp.Seq, cp.Hash, cp.KeyID, cp.At, e.Hash, e.At, sg.KeyID())
		}
	}
	for _, c := range []struct {
		after, through int64
		want           []int64
	}{
		{0, 0, []int64{2, 4, 6}},
		{2, 0, []int64{4, 6}},
		{1, 4, []int64{2, 4}},
		{0, 3, []int64{2}},
		{2, 3, []int64{}},
		{4, 5, []int64{}},
		{5, 6, []int64{6}},
		{6, 0, []int64{}},
	} {
		mustRead(t, s, func(tx posture.Tx) error {
			got, err := tx.Checkpoints(c.after, c.through)
			if err != nil || !slices.Equal(cpSeqs(got), c.want) {
				t.Errorf("Checkpoints(%d, %d): %v %v, want %v", c.after, c.through, cpSeqs(got), err, c.want)
			}
			return nil
		})
	}
	if r := verify(t, s, true, pub); r.Broken != nil || r.Entries != 6 || r.Checkpoints != 3 || r.ChainOnly {
		t.Fatalf("the ledger does not verify: %+v %v", r, r.Broken)
	}

	// Someone with database access edits a document.
	mustExec(t, s, `UPDATE events SET after = '{"n":"edited"}' WHERE seq = 3`)
	if r := verify(t, s, true, pub); r.Broken == nil || r.Broken.Seq != 3 || r.Broken.Reason != ledger.ReasonEdited {
		t.Errorf("edited row 3: verification reports %v, want seq 3 %s", r.Broken, ledger.ReasonEdited)
	}
	// And recomputes the chain from there: the chain holds, the checkpoint
	// at 4 does not.
	prev := es[1].Hash
	es, _ = readLedger(t, s)
	for _, e := range es[2:] {
		e.Prev, e.Hash = prev, ledger.Hash(prev, e)
		mustExec(t, s, `UPDATE events SET prev = ?, hash = ? WHERE seq = ?`, e.Prev, e.Hash, e.Seq)
		prev = e.Hash
	}
	if r := verify(t, s, false); r.Broken != nil {
		t.Fatalf("the rehashed chain should verify without checkpoints (the test's rewrite is wrong): %v", r.Broken)
	}
	if r := verify(t, s, true, pub); r.Broken == nil || r.Broken.Seq != 4 || r.Broken.Reason != ledger.ReasonCheckpoint {
		t.Errorf("rewritten and rehashed from 3: verification reports %v, want seq 4 %s", r.Broken, ledger.ReasonCheckpoint)
	}
}

// testEventFilters: each field of EventFilter selects the right entries.
func testEventFilters(t *testing.T, b Backend) {
	s := b.Open(t)
	appendAll(t, s,
		entry("/subscriptions/s1", posture.EventCreated, "u1", 0),                                   // 1
		entry("/subscriptions/s1/resourcegroups/rg", posture.EventUpdated, "u2", 1),                 // 2
		entry("/subscriptions/s10", posture.EventCreated, "u1", 2),                                  // 3
		entry("/subscriptions/s1/resourcegroups/rg/providers/a/b/c", posture.EventDeleted, "u2", 3), // 4
		entry("/subscriptions/s1-x", posture.EventUpdated, "u1", 4),                                 // 5
		entry("/subscriptions/s2", posture.EventSignIn, "u3", 5),                                    // 6
		entry("/subscriptions/s1.x/y", posture.EventDeleted, "u1", 6),                               // 7
	)
	at := func(sec int) time.Time { return clockBase.Add(time.Duration(sec) * time.Second) }
	for _, c := range []struct {
		name string
		f    posture.EventFilter
		want []int64
	}{
		{"all", posture.EventFilter{}, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"stream", posture.EventFilter{Stream: "/subscriptions/s1"}, []int64{1}},
		{"prefix", posture.EventFilter{StreamPrefix: "/subscriptions/s1"}, []int64{1, 2, 4}},
		{"prefix of a resource group", posture.EventFilter{StreamPrefix: "/subscriptions/s1/resourcegroups/rg"}, []int64{2, 4}},
		{"prefix of the root", posture.EventFilter{StreamPrefix: "/"}, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"prefix of nothing stored", posture.EventFilter{StreamPrefix: "/subscriptions/s3"}, []int64{}},
		{"through", posture.EventFilter{Through: 3}, []int64{1, 2, 3}},
		{"after and through", posture.EventFilter{After: 2, Through: 4}, []int64{3, 4}},
		{"actor", posture.EventFilter{Actor: "u2"}, []int64{2, 4}},
		{"kind", posture.EventFilter{Kind: posture.EventCreated}, []int64{1, 3}},
		{"from (inclusive)", posture.EventFilter{From: at(4)}, []int64{5, 6, 7}},
		{"to (exclusive)", posture.EventFilter{To: at(2)}, []int64{1, 2}},
		{"from and to", posture.EventFilter{From: at(1), To: at(3)}, []int64{2, 3}},
		{"prefix and kind", posture.EventFilter{StreamPrefix: "/subscriptions/s1", Kind: posture.EventDeleted}, []int64{4}},
		{"actor and from", posture.EventFilter{Actor: "u1", From: at(1)}, []int64{3, 5, 7}},
		{"after and limit", posture.EventFilter{After: 1, Limit: 2}, []int64{2, 3}},
		{"actor and limit", posture.EventFilter{Actor: "u1", Limit: 2}, []int64{1, 3}},
	} {
		mustRead(t, s, func(tx posture.Tx) error {
			got, err := tx.Events(c.f)
			if err != nil || !slices.Equal(seqs(got), c.want) {
				t.Errorf("%s %+v: %v %v, want %v", c.name, c.f, seqs(got), err, c.want)
			}
			return nil
		})
	}
}

// testPruneEvents: PruneEvents deletes the entries older than the bound
// with their checkpoints, always keeps the newest entry, and the chain goes
// on from it.
func testPruneEvents(t *testing.T, b Backend) {
	s := b.Open(t)
	sg, pub := signer()
	setSigner(t, s, sg, 2)
	prune := func(before time.Time) int {
		t.Helper()
		var n int
		mustWrite(t, s, func(tx posture.Tx) error {
			var err error
			n, err = tx.PruneEvents(before)
			return err
		})
		return n
	}
	if n := prune(clockBase.Add(time.Hour)); n != 0 {
		t.Errorf("pruning an empty ledger: %d", n)
	}
	for i := 1; i <= 5; i++ {
		appendAll(t, s, entry("/e/"+strconv.Itoa(i), posture.EventCreated, "u1", i))
	}
	// Entries 1, 2 and 3 are older than 3.5s (their At is i seconds).
	if n := prune(clockBase.Add(3500 * time.Millisecond)); n != 3 {
		t.Errorf("pruned %d entries, want 3", n)
	}
	es, cps := readLedger(t, s)
	if !slices.Equal(seqs(es), []int64{4, 5}) || !slices.Equal(cpSeqs(cps), []int64{4}) {
		t.Errorf("after pruning before 3.5s: entries %v checkpoints %v, want [4 5] and [4]", seqs(es), cpSeqs(cps))
	}
	if r := verify(t, s, true, pub); r.Broken != nil || r.First != 4 {
		t.Errorf("the pruned ledger does not verify: %+v %v", r, r.Broken)
	}
	// Everything is old: the newest entry stays.
	if n := prune(clockBase.Add(24 * time.Hour)); n != 1 {
		t.Errorf("pruned %d entries, want 1 (all but the newest)", n)
	}
	es, cps = readLedger(t, s)
	if !slices.Equal(seqs(es), []int64{5}) || len(cps) != 0 {
		t.Fatalf("after pruning everything: entries %v checkpoints %v, want [5] and none", seqs(es), cpSeqs(cps))
	}
	head := es[0].Hash
	next := entry("/e/6", posture.EventCreated, "u1", 6)
	appendAll(t, s, next)
	if next.Seq != 6 || !bytes.Equal(next.Prev, head) {
		t.Errorf("the entry after a prune: seq %d prev %x, want 6 %x", next.Seq, next.Prev, head)
	}
	if r := verify(t, s, true, pub); r.Broken != nil || r.Entries != 2 || r.Checkpoints != 1 {
		t.Errorf("after pruning and appending: %+v %v", r, r.Broken)
	}
}

// testPruneOutOfOrderTimes: entries are numbered in the order they are
// appended, but their At is the time their writer took, which another
// writer may overtake (two requests on one server, or two replicas on one
// PostgreSQL). A prune must still leave a chain that verifies: it may only
// cut a prefix.
func testPruneOutOfOrderTimes(t *testing.T, b Backend) {
	s := b.Open(t)
	appendAll(t, s,
		entry("/e/1", posture.EventCreated, "u1", 10),
		entry("/e/2", posture.EventCreated, "u2", 5), // taken at 5s, appended after the one taken at 10s
		entry("/e/3", posture.EventCreated, "u1", 11),
	)
	mustWrite(t, s, func(tx posture.Tx) error {
		_, err := tx.PruneEvents(clockBase.Add(6 * time.Second))
		return err
	})
	es, _ := readLedger(t, s)
	if r := verify(t, s, true); r.Broken != nil {
		t.Errorf("after pruning before 6s the ledger (entries %v) is broken: %v", seqs(es), r.Broken)
	}
}

// testLedgerSealing: rows written before the ledger existed (no prev, no
// hash) are chained in sequence order when the store opens, once, and new
// entries go on from them.
func testLedgerSealing(t *testing.T, b Backend) {
	s := b.Open(t)
	for i, doc := range []string{`'{"v":1}'`, `NULL`, `'{"v":3}'`} {
		seq := strconv.Itoa(i + 1)
		mustExec(t, s, `INSERT INTO events (seq, stream, kind, actor, actor_type, at, before, after) VALUES (`+
			seq+`, '/e/`+seq+`', 'Created', 'u1', 'User', `+strconv.FormatInt(clockBase.UnixMicro()+int64(i), 10)+`, NULL, `+doc+`)`)
	}
	s = b.Reopen(t, s)
	es, _ := readLedger(t, s)
	if !slices.Equal(seqs(es), []int64{1, 2, 3}) {
		t.Fatalf("entries after sealing: %v", seqs(es))
	}
	var prev []byte
	for _, e := range es {
		if len(e.Hash) == 0 || !bytes.Equal(e.Prev, prev) || !bytes.Equal(e.Hash, ledger.Hash(prev, e)) {
			t.Errorf("entry %d not sealed into the chain: prev %x hash %x", e.Seq, e.Prev, e.Hash)
		}
		prev = e.Hash
	}
	if es[1].After != nil || string(es[2].After) != `{"v":3}` || es[0].Stream != "/e/1" || !es[2].At.Equal(clockBase.Add(2*time.Microsecond)) {
		t.Errorf("sealing changed the rows: %+v", es)
	}
	if r := verify(t, s, false); r.Broken != nil || r.Entries != 3 {
		t.Errorf("the sealed ledger does not verify: %+v %v", r, r.Broken)
	}
	// Opening again changes nothing.
	s = b.Reopen(t, s)
	again, _ := readLedger(t, s)
	for i := range again {
		if !bytes.Equal(again[i].Hash, es[i].Hash) {
			t.Errorf("entry %d resealed on a second open", again[i].Seq)
		}
	}
	next := entry("/e/4", posture.EventCreated, "u1", 4)
	appendAll(t, s, next)
	if next.Seq != 4 || !bytes.Equal(next.Prev, es[2].Hash) {
		t.Errorf("the first entry after sealing: seq %d prev %x, want 4 %x", next.Seq, next.Prev, es[2].Hash)
	}
	if r := verify(t, s, false); r.Broken != nil || r.Entries != 4 {
		t.Errorf("after sealing and appending: %+v %v", r, r.Broken)
	}
}

// testConcurrentAppends: writers appending at once (goroutines here,
// replicas on PostgreSQL) still make one chain without gaps.
func testConcurrentAppends(t *testing.T, b Backend) {
	s := b.Open(t)
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := entry("/w/"+strconv.Itoa(w), posture.EventUpdated, "u"+strconv.Itoa(w), i)
				errs <- s.Write(context.Background(), func(tx posture.Tx) error { return tx.AppendEvent(e) })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent append: %v", err)
		}
	}
	if r := verify(t, s, false); r.Broken != nil || r.Entries != writers*each || r.Last != writers*each {
		t.Errorf("after concurrent appends: %+v %v", r, r.Broken)
	}
}

// testCloseReleasesConnections: Close releases the store (posture.Store):
// on PostgreSQL, its server connections end. (SQLite has none to watch.)
func testCloseReleasesConnections(t *testing.T, b Backend) {
	s := b.Open(t)
	db, _ := sqlOf(t, s)
	var pid int
	if db.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid) != nil {
		t.Skip("not PostgreSQL")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	odb, rebind := sqlOf(t, b.Open(t))
	// The server ends the backend when the client has gone; give it a
	// moment by asking again, not by sleeping.
	for deadline := time.Now().Add(5 * time.Second); ; {
		var n int
		if err := odb.QueryRow(rebind(`SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ?`), pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server backend %d of a closed store is still connected", pid)
		}
	}
}
