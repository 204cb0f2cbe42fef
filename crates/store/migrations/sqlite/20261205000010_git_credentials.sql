-- A user's git credentials: a token for one origin (scheme://host[:port]),
-- sealed at rest with the server's secret key like AI keys. Served to
-- git inside the user's own workspaces on demand (credential helper),
-- never written there. `rejected_at`: when a git server last refused it.
CREATE TABLE git_credentials (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    origin       TEXT NOT NULL,
    username     TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    rejected_at  BIGINT,
    UNIQUE (user_id, origin)
);

-- Credential asks find their workspace by container id.
CREATE INDEX workspaces_container_id ON workspaces(container_id);
