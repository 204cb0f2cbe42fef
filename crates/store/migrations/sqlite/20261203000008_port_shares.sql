-- Who may open a workspace port's preview: 'private' (the workspace's
-- owner and admins; the default, so no row), 'authenticated' (anyone
-- logged in) or 'public' (anyone).
CREATE TABLE port_shares (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    port         BIGINT NOT NULL,
    level        TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, port)
);
