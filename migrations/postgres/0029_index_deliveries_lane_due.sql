-- no-transaction
-- Issue 31: each delivery lane reads only its own due rows (see the SQLite
-- migration 0020 for why). Built without holding off writes. A build that
-- fails is left INVALID; the next start skips it here and rebuilds it
-- (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_lane_due ON deliveries (step, next_attempt_at) WHERE status IN ('pending', 'sending');
