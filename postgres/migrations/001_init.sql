-- The estate: every ARM document (management groups, subscriptions,
-- resource groups, resources, child and extension resources) is one row.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE resources (
	key             TEXT COLLATE "C" PRIMARY KEY, -- lower-case id, compared bytewise
	id              TEXT NOT NULL,
	type            TEXT NOT NULL,
	type_key        TEXT NOT NULL,        -- lower-case type
	name            TEXT NOT NULL,
	kind            TEXT NOT NULL,
	location        TEXT NOT NULL,        -- normalised: lower case, no spaces
	subscription_id TEXT NOT NULL,        -- lower case
	resource_group  TEXT NOT NULL,        -- lower case
	parent_key      TEXT COLLATE "C" NOT NULL,       -- parent scope in the hierarchy
	tracked         BOOLEAN NOT NULL,     -- top-level resource in a resource group
	tags            TEXT NOT NULL,        -- JSON object, as in the document
	body            TEXT NOT NULL,        -- the ARM document
	etag            TEXT NOT NULL,
	created_at      BIGINT NOT NULL,      -- unix microseconds
	changed_at      BIGINT NOT NULL
);
CREATE INDEX resources_parent ON resources (parent_key, key);
CREATE INDEX resources_type ON resources (type_key, subscription_id, key);
-- Tag filters scan the scope they are asked for (tags are a JSON column):
-- ARM lists filter by tag rarely, and Resource Graph queries run in memory.

CREATE TABLE principals (
	id           TEXT PRIMARY KEY,
	type         TEXT NOT NULL,
	display_name TEXT NOT NULL,
	created_at   BIGINT NOT NULL
);

CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	principal_id TEXT NOT NULL,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE, -- hex SHA-256 of the secret
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,     -- 0: never
	revoked_at   BIGINT NOT NULL      -- 0: not revoked
);

CREATE TABLE role_assignments (
	key                TEXT PRIMARY KEY,
	id                 TEXT NOT NULL,
	scope              TEXT NOT NULL,
	principal_id       TEXT NOT NULL,
	role_definition_id TEXT NOT NULL,
	created_at         BIGINT NOT NULL
);
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);
