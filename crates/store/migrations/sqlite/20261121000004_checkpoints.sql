-- What an agent run touched, for undo (SQLite). `content` is the file as it
-- was before the run first changed it (base64), NULL if it did not exist.
CREATE TABLE agent_checkpoints (
    run_id     TEXT NOT NULL,
    path       TEXT NOT NULL,
    content    TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, path)
);
