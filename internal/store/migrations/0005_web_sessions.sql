-- Web UI sessions, kept in the store so that every control plane replica
-- knows them and a restart logs nobody out. The browser's cookie carries a
-- random id; only its SHA-256 is kept here, so a copy of the database
-- opens no session. A session acts as the API token it was opened with,
-- checked again at every request; revoking the token ends it.
CREATE TABLE web_sessions (
	id_hash    TEXT PRIMARY KEY,
	token_id   BIGINT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	flash      TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	seen_at    {{time}} NOT NULL
);
CREATE INDEX web_sessions_token ON web_sessions (token_id);
