-- Events: every change of an exemption (created, updated, deleted,
-- expired) with who, when and the document before and after. Rows are only
-- ever inserted.
CREATE TABLE events (
	seq        BIGSERIAL PRIMARY KEY,
	stream     TEXT COLLATE "C" NOT NULL, -- lower-case id of the object
	kind       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	actor_type TEXT NOT NULL,
	at         BIGINT NOT NULL, -- unix microseconds
	before     TEXT,
	after      TEXT
);
CREATE INDEX events_stream ON events (stream, seq);
