-- no-transaction
-- Issue 34 (T3-7): retention and erasure delete an enquiry's idempotency
-- row (its key and a fingerprint of what the family wrote) by enquiry id.
-- Built without holding off writes. A build that fails is left INVALID;
-- the next start skips it here and rebuilds it (`Store::migrate`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idempotency_keys_enquiry ON idempotency_keys (enquiry_id);
