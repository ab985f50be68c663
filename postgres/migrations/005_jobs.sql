-- The durable job queue (package queue): notices, tickets and workflow
-- automations, enqueued in the transaction of the change they report.
-- A sequence never hands out an id twice, so ids stay cursors after pruning.
CREATE TABLE jobs (
	id           BIGSERIAL PRIMARY KEY,
	key          TEXT NOT NULL UNIQUE, -- idempotency key, e.g. request/{id}/filed/email
	kind         TEXT NOT NULL,        -- names the handler
	ref          TEXT NOT NULL,        -- lower-case id of the object the job is about
	payload      TEXT,                 -- JSON; NULL: none
	state        TEXT NOT NULL,        -- Pending, Running, Done, Dead
	attempts     INTEGER NOT NULL,     -- runs started so far
	max_attempts INTEGER NOT NULL,     -- 0: the queue's default
	run_at       BIGINT NOT NULL,      -- unix microseconds: due from then
	locked_until BIGINT NOT NULL,      -- Running: when the lease runs out
	last_error   TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL
);
-- Claiming reads due Pending jobs by run_at and the (few) Running ones.
CREATE INDEX jobs_due ON jobs (state, run_at, id);
CREATE INDEX jobs_ref ON jobs (ref, id);
