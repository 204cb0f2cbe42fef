-- Snapshots of whole workspaces: the committed container image (its own
-- filesystem changes), a copy of its /workspace data (an engine volume
-- named after the snapshot id) and the settings to make a workspace of it
-- again. A snapshot outlives its workspace (no foreign key): forking a
-- deleted workspace's snapshot is the point.
CREATE TABLE snapshots (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id   TEXT NOT NULL,
    workspace_name TEXT NOT NULL,
    name           TEXT NOT NULL,
    image          TEXT NOT NULL,
    config         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (owner_id, name)
);
