package sqlstore

import (
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/posture/posture"
)

// AppendEvent implements posture.Tx.
func (t *Tx) AppendEvent(e *posture.Event) error {
	err := t.queryRow(`INSERT INTO events (stream, kind, actor, actor_type, at, before, after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.Stream, e.Kind, e.Actor, e.ActorType, micros(e.At), nullText(e.Before), nullText(e.After)).Scan(&e.Seq)
	return t.s.wrap(err)
}

func nullText(b json.RawMessage) sql.NullString {
	return sql.NullString{String: string(b), Valid: b != nil}
}

// Events implements posture.Tx.
func (t *Tx) Events(f posture.EventFilter) ([]*posture.Event, error) {
	conds := []string{`seq > ?`}
	args := []any{f.After}
	if f.Stream != "" {
		conds = append(conds, `stream = ?`)
		args = append(args, f.Stream)
	}
	q := `SELECT seq, stream, kind, actor, actor_type, at, before, after FROM events WHERE ` + strings.Join(conds, ` AND `) + ` ORDER BY seq`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*posture.Event
	for rows.Next() {
		var e posture.Event
		var at int64
		var before, after sql.NullString
		if err := rows.Scan(&e.Seq, &e.Stream, &e.Kind, &e.Actor, &e.ActorType, &at, &before, &after); err != nil {
			return nil, t.s.wrap(err)
		}
		e.At = fromMicros(at)
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		out = append(out, &e)
	}
	return out, t.s.wrap(rows.Err())
}
