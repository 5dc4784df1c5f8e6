-- The staff console (/staff): sign-in sessions and the audit trail of what
-- staff did to enquiries.

-- One row per sign-in. Only the SHA-256 of the session token is stored: a
-- copy of the database (a backup, a replica) does not let anyone sign in.
-- Rows live in the database so sessions survive a restart and work on every
-- instance; a logout sets revoked_at, so the cookie is refused everywhere.
CREATE TABLE staff_sessions (
    token_sha256 TEXT PRIMARY KEY,          -- hex SHA-256 of the cookie's token
    csrf_token   TEXT NOT NULL,             -- carried by every POST form of this session
    label        TEXT NOT NULL,             -- who signed in (the staff token's label)
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- What staff did to an enquiry, kept when its personal data is scrubbed.
-- detail holds no personal data unless the action itself is about the data
-- (an edit keeps the corrected and the original values of the edited fields).
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,            -- UUID v7: sorts by time
    enquiry_id TEXT NOT NULL,
    actor      TEXT NOT NULL,               -- the session's label
    at         BIGINT NOT NULL,
    action     TEXT NOT NULL,               -- retry | release | delete | edit
    reason     TEXT,                        -- why, in the staff member's words
    detail     TEXT                         -- what changed (steps retried, fields edited)
);
CREATE INDEX audit_log_enquiry ON audit_log (enquiry_id, at);
