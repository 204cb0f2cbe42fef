-- The audit log (PostgreSQL): append-only, each row chained to the previous
-- by a hash so that editing or deleting stored rows is detectable.
CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    workspace_id TEXT,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    decision     TEXT,
    approved_by  TEXT,
    result       TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log(workspace_id, seq);
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
