-- Personal data encrypted at rest (issue 18, database.encryption_key_file).
-- Sealed values are text ("v1:KEYID:..."), so no column changes type.
--
-- Lookups of a person by email or phone (erase, export) use a keyed hash
-- (HMAC-SHA256 of the normalised address or number) instead of the sealed
-- payload. Filled at intake on plain databases too, so there is one code
-- path; rows from before this migration get theirs from `enquiries rekey`.
-- Cleared with the payload: a hash still singles a person out.
ALTER TABLE enquiries ADD COLUMN email_hash TEXT;
ALTER TABLE enquiries ADD COLUMN phone_hash TEXT;
CREATE INDEX enquiries_email_hash ON enquiries (email_hash);
CREATE INDEX enquiries_phone_hash ON enquiries (phone_hash);

-- Whether this database holds sealed values, and the ids of the keys they
-- are sealed with (comma-separated, newest first). A start without the key
-- file (or without one of these keys) on a sealed database is refused
-- rather than failing on the first read. Key ids only: never key material.
CREATE TABLE encryption_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     INTEGER NOT NULL DEFAULT 0,
    key_ids    TEXT NOT NULL DEFAULT '',
    updated_at BIGINT
);
INSERT INTO encryption_state (id) VALUES (1);
