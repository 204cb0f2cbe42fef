-- AiCockpit's initial schema (PostgreSQL). Times are Unix milliseconds so that the
-- same queries work on SQLite and PostgreSQL through sqlx's Any driver.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE workspaces (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    template     TEXT,
    image        TEXT NOT NULL,
    state        TEXT NOT NULL,
    state_reason TEXT,
    cpu_millis   BIGINT NOT NULL,
    memory_mb    BIGINT NOT NULL,
    pids_limit   BIGINT NOT NULL,
    env          TEXT NOT NULL,
    ports        TEXT NOT NULL,
    run_as       TEXT NOT NULL,
    container_id TEXT,
    volume       TEXT NOT NULL,
    network      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX workspaces_owner ON workspaces(owner_id);
