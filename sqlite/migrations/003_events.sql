-- Events: every change of an exemption (created, updated, deleted,
-- expired) with who, when and the document before and after. Rows are only
-- ever inserted.
CREATE TABLE events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	stream     TEXT NOT NULL, -- lower-case id of the object
	kind       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	actor_type TEXT NOT NULL,
	at         INTEGER NOT NULL, -- unix microseconds
	before     TEXT,
	after      TEXT
);
CREATE INDEX events_stream ON events (stream, seq);
