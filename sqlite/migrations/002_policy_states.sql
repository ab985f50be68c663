-- The compliance of each resource against each policy definition of each
-- assignment that applies to it. The state is the raw result of the rule:
-- exemptions apply on read.
CREATE TABLE policy_states (
	resource_key    TEXT NOT NULL,
	assignment_key  TEXT NOT NULL,
	reference_id    TEXT NOT NULL,    -- '' for a single-definition assignment
	resource_type   TEXT NOT NULL,    -- lower case
	subscription_id TEXT NOT NULL,    -- lower case
	state           TEXT NOT NULL,
	effect          TEXT NOT NULL,
	error           TEXT NOT NULL,
	first_evaluated INTEGER NOT NULL, -- unix microseconds
	changed_at      INTEGER NOT NULL,
	PRIMARY KEY (resource_key, assignment_key, reference_id)
) WITHOUT ROWID;
CREATE INDEX policy_states_assignment ON policy_states (assignment_key, reference_id, resource_key);
