package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/posture/posture"
)

const resourceColumns = `key, id, type, type_key, name, kind, location, subscription_id, resource_group,
	parent_key, tracked, tags, body, etag, created_at, changed_at`

// maxInsertRows bounds a multi-row INSERT (SQLite allows 32,766 parameters,
// PostgreSQL 65,535; 16 columns x 500 rows stays under both).
const maxInsertRows = 500

func scanResource(sc scanner) (*posture.Resource, error) {
	var r posture.Resource
	var typeKey, tags, body string
	var tracked bool
	var created, changed int64
	if err := sc.Scan(&r.Key, &r.ID, &r.Type, &typeKey, &r.Name, &r.Kind, &r.Location, &r.SubscriptionID,
		&r.ResourceGroup, &r.ParentKey, &tracked, &tags, &body, &r.ETag, &created, &changed); err != nil {
		return nil, err
	}
	r.Tracked = tracked
	r.Body = json.RawMessage(body)
	r.CreatedAt, r.ChangedAt = fromMicros(created), fromMicros(changed)
	if tags != "" && tags != "{}" {
		if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// Resource implements posture.Tx.
func (t *Tx) Resource(key string) (*posture.Resource, error) {
	r, err := scanResource(t.queryRow(`SELECT `+resourceColumns+` FROM resources WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("ResourceNotFound", "The resource '%s' was not found.", key)
	}
	return r, t.s.wrap(err)
}

// Resources implements posture.Tx.
func (t *Tx) Resources(keys []string) (map[string]*posture.Resource, error) {
	out := make(map[string]*posture.Resource, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), maxInsertRows)
		args := make([]any, n)
		for i, k := range keys[:n] {
			args[i] = k
		}
		rows, err := t.query(`SELECT `+resourceColumns+` FROM resources WHERE key IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r, err := scanResource(rows)
			if err != nil {
				rows.Close()
				return nil, t.s.wrap(err)
			}
			out[r.Key] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, t.s.wrap(err)
		}
		keys = keys[n:]
	}
	return out, nil
}

// PutResources implements posture.Tx.
func (t *Tx) PutResources(rs []*posture.Resource) error {
	if k := t.noted(); k != nil {
		for _, r := range rs {
			k.Resources = append(k.Resources, r.Key)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	// Writing in key order keeps B-tree inserts local: about twice as fast
	// as arrival order for large imports.
	if !slices.IsSortedFunc(rs, byKey) {
		rs = slices.SortedFunc(slices.Values(rs), byKey)
	}
	if t.s.d.BulkUpsert != nil && t.conn != nil && len(rs) > 50 {
		return t.s.wrap(t.s.d.BulkUpsert(t.ctx, t.conn, rs))
	}
	for len(rs) > 0 {
		n := min(len(rs), maxInsertRows)
		if err := t.upsert(rs[:n]); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

func byKey(a, b *posture.Resource) int { return strings.Compare(a.Key, b.Key) }

func (t *Tx) upsert(rs []*posture.Resource) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO resources (` + resourceColumns + `) VALUES `)
	args := make([]any, 0, len(rs)*16)
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		args = append(args, ResourceRow(r)...)
	}
	b.WriteString(` ON CONFLICT (key) DO UPDATE SET id = excluded.id, type = excluded.type, type_key = excluded.type_key,
		name = excluded.name, kind = excluded.kind, location = excluded.location, subscription_id = excluded.subscription_id,
		resource_group = excluded.resource_group, parent_key = excluded.parent_key, tracked = excluded.tracked,
		tags = excluded.tags, body = excluded.body, etag = excluded.etag, changed_at = excluded.changed_at`)
	_, err := t.exec(b.String(), args...)
	return err
}

// ResourceRow returns the column values of r in resourceColumns order; the
// bulk writers of the dialects use it too.
func ResourceRow(r *posture.Resource) []any {
	tags := "{}"
	if len(r.Tags) > 0 {
		b, _ := json.Marshal(r.Tags) // map[string]string always marshals
		tags = string(b)
	}
	return []any{r.Key, r.ID, r.Type, strings.ToLower(r.Type), r.Name, r.Kind, r.Location, r.SubscriptionID,
		r.ResourceGroup, r.ParentKey, r.Tracked, tags, string(r.Body), r.ETag, micros(r.CreatedAt), micros(r.ChangedAt)}
}

// ResourceColumns lists the resources table's columns in ResourceRow order.
func ResourceColumns() []string {
	cols := strings.Split(resourceColumns, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}

// DeleteResources implements posture.Tx.
func (t *Tx) DeleteResources(key string) (int, error) {
	if k := t.noted(); k != nil {
		k.Deleted = append(k.Deleted, key)
	}
	lo, hi := subtree(key)
	res, err := t.exec(`DELETE FROM resources WHERE key = ? OR (key > ? AND key < ?)`, key, lo, hi)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), t.s.wrap(err)
}

// subtree returns the exclusive key range of everything under key: keys
// that start with key + "/" sort between key+"/" and key+"0" ('0' follows
// '/' in byte order, and both engines compare keys bytewise).
func subtree(key string) (lo, hi string) {
	if key == "" || key == "/" {
		return "/", "0"
	}
	return key + "/", key + "0"
}

// ListResources implements posture.Tx.
func (t *Tx) ListResources(f posture.ResourceFilter) ([]*posture.Resource, error) {
	if f.TagName == "" {
		return t.list(f)
	}
	var out []*posture.Resource
	err := t.scanTagged(f, func(r *posture.Resource) bool {
		out = append(out, r)
		return f.Limit <= 0 || len(out) < f.Limit
	})
	return out, err
}

// scanTagged calls fn with the resources f selects, tag filter included,
// until fn returns false. Tags are a JSON column, so the tag test runs here,
// a chunk of the scope at a time.
func (t *Tx) scanTagged(f posture.ResourceFilter, fn func(*posture.Resource) bool) error {
	const chunk = 1000
	q := f
	q.TagName, q.TagValue, q.Limit = "", "", chunk
	for {
		rs, err := t.list(q)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if hasTag(r, f.TagName, f.TagValue) && !fn(r) {
				return nil
			}
		}
		if len(rs) < chunk {
			return nil
		}
		q.After = rs[len(rs)-1].Key
	}
}

// hasTag reports whether r has the tag name (case-insensitive, as ARM
// treats tag names) with value (exact; "" = any value).
func hasTag(r *posture.Resource, name, value string) bool {
	for k, v := range r.Tags {
		if strings.EqualFold(k, name) && (value == "" || v == value) {
			return true
		}
	}
	return false
}

// keyColumns are resourceColumns with the document left out.
const keyColumns = `key, id, type, type_key, name, '', '', subscription_id, resource_group,
	parent_key, tracked, '{}', '', etag, created_at, changed_at`

func (t *Tx) list(f posture.ResourceFilter) ([]*posture.Resource, error) {
	where, args := resourceWhere(f)
	cols := resourceColumns
	if f.KeysOnly {
		cols = keyColumns
	}
	q := `SELECT ` + cols + ` FROM resources` + where + ` ORDER BY key`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return queryAll(t, scanResource, q, args...)
}

// CountResources implements posture.Tx.
func (t *Tx) CountResources(f posture.ResourceFilter) (int, error) {
	f.After = ""
	if f.TagName != "" {
		n := 0
		err := t.scanTagged(f, func(*posture.Resource) bool { n++; return true })
		return n, err
	}
	where, args := resourceWhere(f)
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM resources`+where, args...).Scan(&n)
	return n, t.s.wrap(err)
}

func resourceWhere(f posture.ResourceFilter) (string, []any) {
	var conds []string
	var args []any
	if f.Under != "" {
		lo, hi := subtree(f.Under)
		conds = append(conds, `key > ? AND key < ?`)
		args = append(args, lo, hi)
		// A subscription-wide list can use the (type_key, subscription_id)
		// index as well as the key range.
		if sub := subscriptionOf(f.Under); sub != "" {
			conds = append(conds, `subscription_id = ?`)
			args = append(args, sub)
		}
	}
	if f.Parent != "" {
		conds = append(conds, `parent_key = ?`)
		args = append(args, f.Parent)
	}
	if len(f.Types) > 0 {
		conds = append(conds, `type_key IN (`+placeholders(len(f.Types))+`)`)
		for _, ty := range f.Types {
			args = append(args, strings.ToLower(ty))
		}
	}
	if f.TrackedOnly {
		conds = append(conds, `tracked = ?`)
		args = append(args, true)
	}
	if f.Location != "" {
		conds = append(conds, `location = ?`)
		args = append(args, f.Location)
	}
	if f.After != "" {
		conds = append(conds, `key > ?`)
		args = append(args, f.After)
	}
	if len(conds) == 0 {
		return "", args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// subscriptionOf returns the lower-case subscription of a key under
// /subscriptions/{s}, or "".
func subscriptionOf(key string) string {
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return sub
}

func placeholders(n int) string { return repeatTuple("?", n) }

func repeatTuple(tuple string, n int) string {
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n * (len(tuple) + 1))
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	return b.String()
}
