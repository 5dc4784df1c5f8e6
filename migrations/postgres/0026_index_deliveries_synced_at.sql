-- no-transaction
-- Issue 30 (see 0019): /status: synced in the last 24 h.
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_synced_at ON deliveries (updated_at) WHERE status = 'synced';
