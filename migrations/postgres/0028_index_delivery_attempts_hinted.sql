-- no-transaction
-- Issue 30 (see 0019): /status: the latest CareHQ hint.
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS delivery_attempts_hinted ON delivery_attempts (started_at) WHERE hint IS NOT NULL;
