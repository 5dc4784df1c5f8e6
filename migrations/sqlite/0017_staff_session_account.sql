-- Per-account staff tokens (issue 15): a session signed in with an
-- account's staff_token sees only that account's homes. NULL: the global
-- staff.token, which sees everything (every session before this one).
ALTER TABLE staff_sessions ADD COLUMN account TEXT;
