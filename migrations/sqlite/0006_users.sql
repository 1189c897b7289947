-- People who use amtspost through the web or the API, and how they prove it.
-- Roles are the roles the workflows declare plus `admin` and
-- `municipality`; a municipality user is bound to one party (its name as in
-- workflows/data/kommunen.json). Passwords are Argon2id PHC strings; API
-- tokens and session ids are stored only as SHA-256 hashes, so a copy of the
-- database lets nobody log in.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    password_hash TEXT,
    roles         TEXT    NOT NULL,
    party         TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    CONSTRAINT users_name_key UNIQUE (name)
);

CREATE TABLE api_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT    NOT NULL
);

-- A login session: ended server-side by logout, or by the idle and absolute
-- timeouts checked on every request.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    csrf_token   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed logins, per user name and per client address, for the rate limit.
CREATE TABLE login_failures (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);
