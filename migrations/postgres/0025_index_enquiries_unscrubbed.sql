-- no-transaction
-- Issue 30 (see 0019): Retention looks only at enquiries still holding personal data.
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS enquiries_unscrubbed ON enquiries (received_at) WHERE payload IS NOT NULL;
