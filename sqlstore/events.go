package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/ledger"
)

// ledgerLock serialises appends across PostgreSQL replicas: each entry's
// hash depends on the one before.
const ledgerLock = "posture/ledger"

// Signer signs ledger checkpoints; *ledger.Signer is one.
type Signer interface {
	Sign(seq int64, hash []byte, at time.Time) posture.LedgerCheckpoint
}

// SetLedgerSigner makes the store write a checkpoint signed by sg after
// every `every` entries. Call it before serving.
func (s *Store) SetLedgerSigner(sg Signer, every int) {
	s.signer, s.checkpointEvery = sg, int64(max(every, 1))
}

// AppendEvent implements posture.Tx.
func (t *Tx) AppendEvent(e *posture.Event) error {
	if k := t.noted(); k != nil {
		k.Streams = append(k.Streams, e.Stream)
	}
	// The ledger's lock is held until the transaction ends, so after its
	// first entry the transaction knows the head (a batch of exemption
	// writes appends one per write).
	if t.head == nil {
		if err := t.Lock(ledgerLock); err != nil {
			return err
		}
		seq, hash, err := t.LedgerHead()
		if err != nil {
			return err
		}
		t.head = &ledgerHead{seq, hash}
	}
	e.Seq, e.Prev = t.head.seq+1, t.head.hash
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.Stream == "" {
		e.Stream = strings.ToLower(e.Scope)
	}
	e.Hash = ledger.Hash(e.Prev, e)
	_, err := t.exec(`INSERT INTO events (seq, stream, kind, actor, actor_type, at, action, scope, before, after, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.Stream, e.Kind, e.Actor, e.ActorType, micros(e.At), e.Action, e.Scope, nullText(e.Before), nullText(e.After), e.Prev, e.Hash)
	if err != nil {
		t.head = nil // the statement failed: the transaction will not commit it
		return err
	}
	t.head.seq, t.head.hash = e.Seq, e.Hash
	if sg := t.s.signer; sg != nil && e.Seq%t.s.checkpointEvery == 0 {
		cp := sg.Sign(e.Seq, e.Hash, e.At)
		_, err = t.exec(`INSERT INTO ledger_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
			cp.Seq, cp.Hash, micros(cp.At), cp.KeyID, cp.Signature)
	}
	return err
}

// LedgerHead implements posture.Tx.
func (t *Tx) LedgerHead() (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := t.queryRow(`SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	return seq, hash, t.s.wrap(err)
}

// Checkpoints implements posture.Tx.
func (t *Tx) Checkpoints(after, through int64) ([]*posture.LedgerCheckpoint, error) {
	q := `SELECT seq, hash, at, key_id, signature FROM ledger_checkpoints WHERE seq > ?`
	args := []any{after}
	if through > 0 {
		q += ` AND seq <= ?`
		args = append(args, through)
	}
	return queryAll(t, scanCheckpoint, q+` ORDER BY seq`, args...)
}

func scanCheckpoint(rows scanner) (*posture.LedgerCheckpoint, error) {
	var c posture.LedgerCheckpoint
	var at int64
	if err := rows.Scan(&c.Seq, &c.Hash, &at, &c.KeyID, &c.Signature); err != nil {
		return nil, err
	}
	c.At = fromMicros(at)
	return &c, nil
}

// PruneEvents implements posture.Tx.
func (t *Tx) PruneEvents(before time.Time) (int, error) {
	if err := t.Lock(ledgerLock); err != nil {
		return 0, err
	}
	head, _, err := t.LedgerHead()
	if err != nil || head == 0 {
		return 0, err
	}
	// Entries are stamped before their writer takes the ledger lock, so
	// times are not quite in sequence order: delete the run of entries
	// before the first one at or after the cut, never one in the middle.
	r, err := t.exec(`DELETE FROM events WHERE seq < COALESCE((SELECT MIN(seq) FROM events WHERE at >= ?), ?)`, micros(before), head)
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	_, err = t.exec(`DELETE FROM ledger_checkpoints WHERE seq < (SELECT MIN(seq) FROM events)`)
	return int(n), err
}

func nullText(b json.RawMessage) sql.NullString {
	return sql.NullString{String: string(b), Valid: b != nil}
}

const eventColumns = `seq, stream, kind, actor, actor_type, at, action, scope, before, after, prev, hash`

// Events implements posture.Tx.
func (t *Tx) Events(f posture.EventFilter) ([]*posture.Event, error) {
	conds := []string{`seq > ?`}
	args := []any{f.After}
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.Through > 0 {
		add(`seq <= ?`, f.Through)
	}
	if f.Stream != "" {
		add(`stream = ?`, f.Stream)
	}
	if p := f.StreamPrefix; p != "" && p != "/" {
		conds = append(conds, `(stream = ? OR (stream > ? AND stream < ?))`)
		args = append(args, p, p+"/", p+"0") // '0' follows '/'
	}
	if f.Actor != "" {
		add(`actor = ?`, f.Actor)
	}
	if f.Kind != "" {
		add(`kind = ?`, f.Kind)
	}
	if !f.From.IsZero() {
		add(`at >= ?`, micros(f.From))
	}
	if !f.To.IsZero() {
		add(`at < ?`, micros(f.To))
	}
	q := `SELECT ` + eventColumns + ` FROM events WHERE ` + strings.Join(conds, ` AND `) + ` ORDER BY seq`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return queryAll(t, scanEvent, q, args...)
}

func scanEvent(rows scanner) (*posture.Event, error) {
	var e posture.Event
	var at int64
	var before, after sql.NullString
	if err := rows.Scan(&e.Seq, &e.Stream, &e.Kind, &e.Actor, &e.ActorType, &at, &e.Action, &e.Scope, &before, &after, &e.Prev, &e.Hash); err != nil {
		return nil, err
	}
	e.At = fromMicros(at)
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	return &e, nil
}

// sealLedger chains the entries written before the ledger existed (their
// hash is NULL), in sequence order. It runs once, when the store opens
// after the migration that added the chain.
func (s *Store) sealLedger(tx *Tx) error {
	var n int
	if err := tx.queryRow(`SELECT COUNT(*) FROM events WHERE hash IS NULL`).Scan(&n); err != nil || n == 0 {
		return s.wrap(err)
	}
	all, err := queryAll(tx, scanEvent, `SELECT `+eventColumns+` FROM events ORDER BY seq`)
	if err != nil {
		return err
	}
	var prev []byte
	for _, e := range all {
		if e.Hash == nil {
			e.Prev = prev
			e.Hash = ledger.Hash(prev, e)
			if _, err := tx.exec(`UPDATE events SET prev = ?, hash = ? WHERE seq = ?`, e.Prev, e.Hash, e.Seq); err != nil {
				return err
			}
		}
		prev = e.Hash
	}
	return nil
}
