-- One-time tokens that enrol a new server as a node (`ferry node join`).
-- Only the secret's SHA-256 is kept. used_at is set once, by the UPDATE
-- that claims the token, so two joins with one token cannot both succeed.
CREATE TABLE join_tokens (
	id         {{id}},
	host       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_by TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	expires_at {{time}} NOT NULL,
	used_at    {{time}}
);
