-- The durable job queue (package queue): notices, tickets and workflow
-- automations, enqueued in the transaction of the change they report.
--: an id is never reused after pruning, so ids stay cursors.
CREATE TABLE jobs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	key          TEXT NOT NULL UNIQUE, -- idempotency key, e.g. request/{id}/filed/email
	kind         TEXT NOT NULL,        -- names the handler
	ref          TEXT NOT NULL,        -- lower-case id of the object the job is about
	payload      TEXT,                 -- JSON; NULL: none
	state        TEXT NOT NULL,        -- Pending, Running, Done, Dead
	attempts     INTEGER NOT NULL,     -- runs started so far
	max_attempts INTEGER NOT NULL,     -- 0: the queue's default
	run_at       INTEGER NOT NULL,     -- unix microseconds: due from then
	locked_until INTEGER NOT NULL,     -- Running: when the lease runs out
	last_error   TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
-- Claiming reads due Pending jobs by run_at and the (few) Running ones.
CREATE INDEX jobs_due ON jobs (state, run_at, id);
CREATE INDEX jobs_ref ON jobs (ref, id);
