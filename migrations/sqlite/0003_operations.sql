-- Operations: the retention purge and staff listings select by arrival time.
CREATE INDEX enquiries_received ON enquiries (received_at);

-- Alert incidents now open, one row per kind (failed | paused | pending_age).
-- Inserting the row claims the "incident" message and deleting it claims the
-- "cleared" one, so with several instances each message is sent once.
CREATE TABLE alert_incidents (
    kind      TEXT PRIMARY KEY,
    opened_at INTEGER NOT NULL
);
