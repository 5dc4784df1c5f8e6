-- no-transaction
-- Issue 30 (see 0019): /status: sends whose outcome is unknown.
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_ambiguous ON deliveries (enquiry_id) WHERE ambiguous > 0;
