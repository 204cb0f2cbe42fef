-- Per-workspace idle timeout in seconds: NULL is the server default, 0 never.
ALTER TABLE workspaces ADD COLUMN idle_timeout_secs BIGINT;
