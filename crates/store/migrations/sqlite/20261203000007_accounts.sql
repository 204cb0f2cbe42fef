-- A disabled user cannot log in and has no tokens; a user who must change
-- their password can do nothing else until they have. 0 or 1: the Any
-- driver cannot read SQLite's booleans.
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
