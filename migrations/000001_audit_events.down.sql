-- Drops the audit log and everything it holds. Only for tearing down a
-- scratch database: the runner never applies .down.sql files.
DROP TABLE IF EXISTS audit_events;
