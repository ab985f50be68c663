package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/sqlite"
	"github.com/posture/posture/sqlstore"
)

// StoreFlags select the store: embedded SQLite in the data directory, or
// PostgreSQL when a database URL is given.
type StoreFlags struct {
	Data        string `default:"./posture-data" help:"Data directory (holds the SQLite file and the bootstrap token)." env:"POSTURE_DATA"`
	DatabaseURL string `name:"database-url" help:"PostgreSQL URL (postgres://…); empty for the embedded SQLite store." env:"POSTURE_DATABASE_URL"`
}

func (f *StoreFlags) open(ctx context.Context, now posture.Clock) (*sqlstore.Store, error) {
	switch u := f.DatabaseURL; {
	case u == "":
		return sqlite.Open(ctx, f.Data, now)
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return postgres.Open(ctx, u, now)
	default:
		return nil, usageError{fmt.Errorf("--database-url must start with postgres:// or postgresql:// (empty means the embedded SQLite store)")}
	}
}

// openCluster is open, also returning the coordination of the replicas
// on a PostgreSQL database (nil for SQLite).
func (f *StoreFlags) openCluster(ctx context.Context, now posture.Clock) (*sqlstore.Store, *postgres.Cluster, error) {
	if f.DatabaseURL == "" {
		s, err := sqlite.Open(ctx, f.Data, now)
		return s, nil, err
	}
	if u := f.DatabaseURL; !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		_, err := f.open(ctx, now)
		return nil, nil, err
	}
	return postgres.OpenCluster(ctx, f.DatabaseURL, now)
}

// describe names the store for people, without credentials.
func (f *StoreFlags) describe() string {
	if f.DatabaseURL == "" {
		return "SQLite in " + f.Data
	}
	u := f.DatabaseURL
	if at := strings.LastIndex(u, "@"); at >= 0 {
		u = "postgres://…@" + u[at+1:]
	}
	return "PostgreSQL " + u
}
