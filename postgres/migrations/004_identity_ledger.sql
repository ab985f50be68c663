-- Identity: group membership, custom role definitions, the fields of role
-- assignments that Azure returns, and a token index for listing.
CREATE TABLE group_members (
	group_id  TEXT NOT NULL,
	member_id TEXT NOT NULL,
	PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);
CREATE INDEX tokens_principal ON tokens (principal_id);

CREATE TABLE role_definitions (
	key TEXT PRIMARY KEY, -- lower-case GUID of the role
	doc TEXT NOT NULL     -- its ARM document
);

ALTER TABLE role_assignments ADD COLUMN principal_type TEXT NOT NULL DEFAULT '';
ALTER TABLE role_assignments ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE role_assignments ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE role_assignments ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE role_assignments ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';

-- The audit ledger: events become entries of a hash chain (package
-- ledger). Rows written before this migration are sealed in sequence order
-- when the store opens.
ALTER TABLE events ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN prev BYTEA;
ALTER TABLE events ADD COLUMN hash BYTEA;
CREATE INDEX events_at ON events (at);

-- A signature over the chain's hash every N entries, with a key the
-- database does not hold.
CREATE TABLE ledger_checkpoints (
	seq       BIGINT PRIMARY KEY,
	hash      BYTEA NOT NULL,
	at        BIGINT NOT NULL,
	key_id    TEXT NOT NULL,
	signature BYTEA NOT NULL
);
