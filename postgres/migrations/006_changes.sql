-- The change log replicas share (sqlstore/changes.go): one row per write
-- transaction naming the keys it changed. Only PostgreSQL stores write it;
-- the table exists on both so that the schemas stay the same.
CREATE TABLE changes (
	seq    BIGSERIAL PRIMARY KEY,
	origin TEXT NOT NULL,   -- the replica that wrote it
	at     BIGINT NOT NULL, -- unix microseconds
	body   TEXT NOT NULL    -- JSON of posture.ChangeKeys
);
CREATE INDEX changes_at ON changes (at);
