package sqlstore

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
)

// The change log: with Dialect.ChangeLog set, every write transaction that
// changed something other replicas hold in memory appends one row naming
// the keys it changed, in the same transaction, so a row exists exactly
// when its change does (a crash cannot commit one without the other).
// Replicas read the rows after their last one (package replica).

// changeLogLock serialises the tails of the transactions that log changes.
const changeLogLock = "posture:change-log"

// noted returns the transaction's change keys to add to, nil when the store
// keeps no change log or the transaction is read-only.
func (t *Tx) noted() *posture.ChangeKeys {
	if !t.s.d.ChangeLog || !t.write {
		return nil
	}
	if t.keys == nil {
		t.keys = &posture.ChangeKeys{}
	}
	return t.keys
}

// noteIdentity records a change of principals, tokens, groups or roles.
func (t *Tx) noteIdentity() {
	if k := t.noted(); k != nil {
		k.Identity = true
	}
}

// appendChange writes the transaction's change row, just before commit.
func (t *Tx) appendChange() error {
	if t.keys.Empty() {
		return nil
	}
	body, err := json.Marshal(t.keys)
	if err != nil {
		return posture.Internal(err)
	}
	// Held until commit: rows become visible in seq order, so a replica
	// that has read up to seq n has seen every row below it.
	if err := t.Lock(changeLogLock); err != nil {
		return err
	}
	var seq int64
	err = t.queryRow(`INSERT INTO changes (origin, at, body) VALUES (?, ?, ?) RETURNING seq`, t.s.origin, micros(t.s.now()), string(body)).Scan(&seq)
	if err != nil {
		return t.s.wrap(err)
	}
	if t.s.d.Notify != "" {
		// Delivered when the transaction commits, not before. The
		// origin lets a replica ignore its own (NotifyOrigin).
		if _, err := t.exec(t.s.d.Notify, strconv.FormatInt(seq, 10)+" "+t.s.origin); err != nil {
			return err
		}
	}
	return nil
}

// NotifyOrigin returns the origin of a change from the payload of its
// notification ("seq origin"), "" when there is none.
func NotifyOrigin(payload string) string {
	_, origin, _ := strings.Cut(payload, " ")
	return origin
}

// SetOrigin names this process in the change rows it writes, so that it
// can skip its own when it reads the log.
func (s *Store) SetOrigin(origin string) { s.origin = origin }

// ChangeLog reports whether the store keeps a change log.
func (s *Store) ChangeLog() bool { return s.d.ChangeLog }

// Changes returns up to limit change rows with seq > after, in seq order.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]posture.ChangeRecord, error) {
	return queryAll(s.statement(ctx), func(r scanner) (posture.ChangeRecord, error) {
		var c posture.ChangeRecord
		var at int64
		var body string
		if err := r.Scan(&c.Seq, &c.Origin, &at, &body); err != nil {
			return c, err
		}
		c.At = fromMicros(at)
		return c, json.Unmarshal([]byte(body), &c.Keys)
	}, `SELECT seq, origin, at, body FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
}

// LastChange returns the highest seq in the change log (0 when empty).
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.statement(ctx).queryRow(`SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&seq)
	return seq, s.wrap(err)
}

// prunedSetting holds the highest seq PruneChanges deleted: a replica
// whose last applied record is below it missed records it can no longer
// read.
const prunedSetting = "changes:pruned-through"

// PruneChanges deletes change rows written before the time, keeping the
// newest so that the sequence goes on from it, and records the highest seq
// it deleted (PrunedThrough).
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.Write(ctx, func(ptx posture.Tx) error {
		tx := ptx.(*Tx)
		var through int64
		if err := tx.queryRow(`SELECT COALESCE(MAX(seq), 0) FROM changes WHERE at < ? AND seq < (SELECT MAX(seq) FROM changes)`, micros(before)).Scan(&through); err != nil {
			return s.wrap(err)
		}
		if through == 0 {
			return nil
		}
		res, err := tx.exec(`DELETE FROM changes WHERE seq <= ?`, through)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return s.wrap(err)
		}
		// Not PutSetting: this is no change the other replicas follow.
		_, err = tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, prunedSetting, strconv.FormatInt(through, 10))
		return err
	})
	return int(n), err
}

// PrunedThrough returns the highest seq PruneChanges deleted (0: none).
func (s *Store) PrunedThrough(ctx context.Context) (int64, error) {
	var v string
	err := s.Read(ctx, func(tx posture.Tx) error {
		var err error
		v, err = tx.Setting(prunedSetting)
		return err
	})
	if err != nil || v == "" {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}
