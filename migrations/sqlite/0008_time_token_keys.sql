-- The time token's HMAC key, one row shared by every instance on this
-- database. Stored rather than derived at each start, so rotating the CareHQ
-- secret (from which the first key is derived) no longer makes every open
-- form look forged. When spam.token_secret changes, the key it replaces is
-- kept with the time it was replaced (Unix ms): tokens it signed still
-- verify for spam.max_token_age after that.
CREATE TABLE time_token_keys (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    key          TEXT NOT NULL,
    previous_key TEXT,
    replaced_at  INTEGER,
    created_at   INTEGER NOT NULL
);
