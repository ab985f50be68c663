package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlstore"
)

// bulkUpsert writes resources with COPY into a temporary table and one
// INSERT … ON CONFLICT from it: several times faster than multi-row INSERTs
// for imports. It runs inside the caller's transaction (same connection),
// and the temporary table empties itself at commit.
func bulkUpsert(ctx context.Context, conn *sql.Conn, rs []*posture.Resource) error {
	cols := sqlstore.ResourceColumns()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS import_resources (LIKE resources) ON COMMIT DELETE ROWS`); err != nil {
			return err
		}
		rows := make([][]any, len(rs))
		for i, r := range rs {
			rows[i] = sqlstore.ResourceRow(r)
		}
		if _, err := pc.CopyFrom(ctx, pgx.Identifier{"import_resources"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		set := make([]string, 0, len(cols))
		for _, c := range cols {
			if c != "key" && c != "created_at" {
				set = append(set, c+" = excluded."+c)
			}
		}
		_, err := pc.Exec(ctx, `INSERT INTO resources (`+strings.Join(cols, ", ")+`) SELECT `+strings.Join(cols, ", ")+
			` FROM import_resources ON CONFLICT (key) DO UPDATE SET `+strings.Join(set, ", "))
		if err != nil {
			return err
		}
		_, err = pc.Exec(ctx, `TRUNCATE import_resources`)
		return err
	})
}
