-- Issue 34 (T3-3): a session remembers which staff token opened it, as a
-- keyed fingerprint (hex HMAC-SHA256 under a key the server derives from its
-- CareHQ secret, never stored here), so a session whose token has since
-- changed is refused. NULL: a session from before this migration; it is
-- refused too (its token is unknown), so staff sign in once more.
-- Looked up only with the session's own row (by its primary key): no index.
ALTER TABLE staff_sessions ADD COLUMN token_fingerprint TEXT;
