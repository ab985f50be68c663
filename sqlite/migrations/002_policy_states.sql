-- What each policy assignment says about each resource it covers: one row
-- per (resource, assignment), the state of every applicable definition in
-- a JSON array [[referenceId, state, effect, error, firstEvaluated,
-- changedAt], ...] (times in unix microseconds). One row per pair rather
-- than per definition keeps a full evaluation's writes six times smaller.
-- States are the raw result of the rules: exemptions apply on read.
CREATE TABLE policy_states (
	resource_key    TEXT NOT NULL,
	assignment_key  TEXT NOT NULL,
	resource_type   TEXT NOT NULL, -- lower case
	subscription_id TEXT NOT NULL, -- lower case
	states          TEXT NOT NULL,
	PRIMARY KEY (resource_key, assignment_key)
) WITHOUT ROWID;
CREATE INDEX policy_states_assignment ON policy_states (assignment_key, resource_key);
