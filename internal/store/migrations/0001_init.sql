-- ferry's first schema. The same text serves SQLite and PostgreSQL: {{id}}
-- becomes each one's auto-numbered key and {{time}} its time column (text in
-- a fixed UTC format on SQLite, timestamptz on PostgreSQL). JSON documents
-- are kept as text, exactly as they were written.
--
-- Orders are never deleted, only marked so, and keep naming their member and
-- host; a member or host whose orders and items are all deleted may go. So
-- member and host names are checked by the store's code, not by foreign keys.

CREATE TABLE members (
	name          TEXT PRIMARY KEY,
	friendly_name TEXT NOT NULL,
	created_at    {{time}} NOT NULL
);

CREATE TABLE hosts (
	name          TEXT PRIMARY KEY,
	addresses     TEXT NOT NULL, -- JSON array of strings
	roles         TEXT NOT NULL, -- JSON array of strings
	state         TEXT NOT NULL,
	disk_capacity BIGINT NOT NULL,
	-- the heartbeat, written by RecordHeartbeat only
	last_seen     {{time}},
	disk_free     BIGINT NOT NULL DEFAULT 0,
	disk_used     BIGINT NOT NULL DEFAULT 0,
	load_avg      DOUBLE PRECISION NOT NULL DEFAULT 0,
	version       TEXT NOT NULL DEFAULT '',
	created_at    {{time}} NOT NULL
);

CREATE TABLE orders (
	id         {{id}},
	identifier TEXT NOT NULL,
	member     TEXT NOT NULL,
	host       TEXT NOT NULL,
	state      TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX orders_member ON orders (member);
CREATE INDEX orders_host ON orders (host);
-- A domain has one active order; during a move its twin is in transfer-limbo.
CREATE UNIQUE INDEX orders_active_identifier ON orders (identifier) WHERE state = 'active';

CREATE TABLE items (
	id         {{id}},
	order_id   BIGINT NOT NULL REFERENCES orders (id),
	host       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	state      TEXT NOT NULL,
	message    TEXT NOT NULL,
	spec       TEXT NOT NULL, -- JSON object, model.Spec
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX items_order ON items (order_id);
CREATE INDEX items_host_state ON items (host, state);

-- The identities each item claims (model.Spec.Identities). name is the
-- server name or DNS name inside the identity, for searching orders.
CREATE TABLE item_identities (
	identity TEXT NOT NULL,
	item_id  BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
	name     TEXT,
	PRIMARY KEY (identity, item_id)
);
CREATE INDEX item_identities_item ON item_identities (item_id);

CREATE TABLE tokens (
	id         {{id}},
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	member     TEXT NOT NULL, -- '' unless role is member
	host       TEXT NOT NULL, -- '' unless role is node
	hash       TEXT NOT NULL UNIQUE,
	created_at {{time}} NOT NULL,
	revoked_at {{time}}
);

-- The audit log outlives what it speaks of, so order_id refers to nothing.
CREATE TABLE audit (
	id          {{id}},
	at          {{time}} NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	object      TEXT NOT NULL,
	order_id    BIGINT,
	before_json TEXT NOT NULL,
	after_json  TEXT NOT NULL
);
CREATE INDEX audit_order ON audit (order_id, id);

CREATE TABLE moves (
	id             {{id}},
	order_id       BIGINT NOT NULL REFERENCES orders (id),
	limbo_order_id BIGINT REFERENCES orders (id),
	from_host      TEXT NOT NULL,
	to_host        TEXT NOT NULL,
	phase          TEXT NOT NULL,
	status         TEXT NOT NULL,
	error          TEXT NOT NULL,
	data           TEXT, -- JSON, the move engine's own state
	created_at     {{time}} NOT NULL,
	updated_at     {{time}} NOT NULL
);
-- An order is in one move at a time.
CREATE UNIQUE INDEX moves_active_order ON moves (order_id) WHERE phase NOT IN ('done', 'aborted');

CREATE TABLE tasks (
	id          {{id}},
	host        TEXT NOT NULL,
	move_id     BIGINT REFERENCES moves (id),
	kind        TEXT NOT NULL,
	payload     TEXT, -- JSON
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	lease_until {{time}},
	result      TEXT, -- JSON
	error       TEXT NOT NULL,
	created_at  {{time}} NOT NULL,
	updated_at  {{time}} NOT NULL
);
CREATE INDEX tasks_host_state ON tasks (host, state, id);
CREATE INDEX tasks_move ON tasks (move_id);
