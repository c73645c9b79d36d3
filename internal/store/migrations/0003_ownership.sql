-- Names belong to one member (issue: cross-member claims).
--
-- The domains an order holds besides its identifier. A name a member's
-- item claims (a server name, a DNS record) must lie under one of its
-- order's domains; the most specific claimed domain decides whose it is.
CREATE TABLE order_domains (
	order_id   BIGINT NOT NULL REFERENCES orders (id),
	domain     TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	PRIMARY KEY (order_id, domain)
);
CREATE INDEX order_domains_domain ON order_domains (domain);
CREATE INDEX orders_identifier ON orders (identifier);

-- The zones the co-op's DNS hosts serve, kept by admins. A dns item's zone
-- must be one of them.
CREATE TABLE zones (
	name       TEXT PRIMARY KEY,
	created_at {{time}} NOT NULL
);

-- What a node reports about its host's own accounts: the system users and
-- groups no member may take as a login.
ALTER TABLE hosts ADD COLUMN system_names TEXT NOT NULL DEFAULT '[]';

-- A live token's name says who did what in the audit log, so it is unique.
-- Live duplicates from before get their id appended.
UPDATE tokens SET name = name || '-' || CAST(id AS TEXT)
	WHERE revoked_at IS NULL AND id NOT IN (
		SELECT MIN(id) FROM tokens WHERE revoked_at IS NULL GROUP BY name);
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
