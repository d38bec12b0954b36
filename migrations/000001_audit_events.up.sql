-- The audit log itself: one row per event, never updated in place.
-- Column names and types are the schema contract (SPEC section 6); the
-- hash-chain columns are filled by the trigger installed in 000003.
CREATE TABLE IF NOT EXISTS audit_events (
    id             TEXT PRIMARY KEY,
    actor          VARCHAR(255) NOT NULL,
    actor_type     VARCHAR(50)  NOT NULL,
    action         VARCHAR(255) NOT NULL,
    resource_type  VARCHAR(255) NOT NULL,
    resource_id    VARCHAR(255) NOT NULL,
    details        JSONB,
    "timestamp"    TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    event_category TEXT         NOT NULL DEFAULT 'cert_lifecycle'
        CONSTRAINT audit_events_event_category_check
        CHECK (event_category IN ('cert_lifecycle', 'auth', 'config')),
    prev_hash      TEXT,
    row_hash       TEXT         NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_audit_events_timestamp ON audit_events ("timestamp");
CREATE INDEX IF NOT EXISTS idx_audit_events_actor ON audit_events (actor);
CREATE INDEX IF NOT EXISTS idx_audit_events_action ON audit_events (action);
CREATE INDEX IF NOT EXISTS idx_audit_events_resource ON audit_events (resource_type, resource_id);
CREATE INDEX IF NOT EXISTS idx_audit_events_event_category ON audit_events (event_category);
