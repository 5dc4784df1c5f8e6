-- What the enquiry stored under an idempotency key said: a SHA-256 (hex) of
-- the validated enquiry (and visit request), so the same key sent again with
-- a different enquiry is refused (409) instead of answered as a replay.
-- Keys stored before this migration have none and are answered as repeats,
-- as they were (they are forgotten within 24 hours anyway).
ALTER TABLE idempotency_keys ADD COLUMN fingerprint TEXT;
