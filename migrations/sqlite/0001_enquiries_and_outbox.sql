-- Enquiries, their delivery outbox, every delivery attempt, idempotency keys and
-- the shared delivery state. Times are Unix milliseconds (INTEGER) so that the same
-- queries run on SQLite and PostgreSQL.

CREATE TABLE enquiries (
    id           TEXT PRIMARY KEY,          -- UUID v7, also the answer's "id"
    site         TEXT NOT NULL,             -- site slug from the config
    received_at  INTEGER NOT NULL,
    payload      TEXT,                      -- the validated enquiry as JSON; NULL once scrubbed
    spam_verdict TEXT NOT NULL DEFAULT 'clean',
    scrubbed_at  INTEGER
);
CREATE INDEX enquiries_site_received ON enquiries (site, received_at);

-- The outbox: one row per delivery step of an enquiry.
-- While status = 'sending', next_attempt_at holds the lease expiry: a row whose
-- lease ran out (crash mid-send) is due again by the same condition as a pending one.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    enquiry_id      TEXT NOT NULL REFERENCES enquiries (id),
    step            TEXT NOT NULL,          -- 'enquiry'
    status          TEXT NOT NULL,          -- pending | sending | synced | failed | held
    attempts        INTEGER NOT NULL DEFAULT 0,
    ambiguous       INTEGER NOT NULL DEFAULT 0,  -- sends whose outcome is unknown (timeout, broken answer, lost lease)
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    remote_id       TEXT,                   -- CareHQ _id once synced
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (enquiry_id, step)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

CREATE TABLE delivery_attempts (
    id          TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL,              -- synced | retry | ambiguous | rate_limited | paused | failed
    http_status INTEGER,
    hint        TEXT,                       -- CareHQ's hint
    arg_errors  TEXT,                       -- CareHQ's arg_errors as JSON
    error       TEXT                        -- our own description (transport errors)
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, started_at);

CREATE TABLE idempotency_keys (
    site       TEXT NOT NULL,
    key        TEXT NOT NULL,
    enquiry_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (site, key)
);

-- One row shared by every instance: whether delivery is paused and why, and the
-- last outcomes staff see in /status.
CREATE TABLE delivery_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    paused_reason   TEXT,
    paused_status   INTEGER,
    paused_at       INTEGER,
    last_success_at INTEGER,
    last_error_at   INTEGER,
    last_error      TEXT
);
INSERT INTO delivery_state (id) VALUES (1);
