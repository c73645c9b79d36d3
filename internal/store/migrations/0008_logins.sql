-- Web logins: a login name and a password (and, if its owner turned it
-- on, a TOTP secret) for the web UI. A login acts as a token of its own,
-- whose secret nobody holds, so it has that token's role and member, and
-- revoking the token (or deleting the member, which revokes its tokens)
-- ends the login and its sessions.
CREATE TABLE logins (
	name          TEXT PRIMARY KEY,
	token_id      BIGINT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	password_hash TEXT NOT NULL,
	totp_secret   TEXT NOT NULL DEFAULT '',
	created_at    {{time}} NOT NULL,
	updated_at    {{time}} NOT NULL
);
CREATE INDEX logins_token ON logins (token_id);
