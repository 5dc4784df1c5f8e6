-- no-transaction
-- Issue 30 (see 0019): One home's list filtered by state.
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS enquiries_site_state_received ON enquiries (site, state, received_at, id);
