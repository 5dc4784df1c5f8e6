-- no-transaction
-- Issue 30 (see 0019): The list's keyset order (and, with site and state, the overview's window).
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS enquiries_received ON enquiries (received_at, id, site, state);
