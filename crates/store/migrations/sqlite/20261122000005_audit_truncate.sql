-- SQLite has no TRUNCATE (a DELETE without WHERE meets the delete trigger);
-- this migration keeps the two backends' version lists paired.
SELECT 1;
