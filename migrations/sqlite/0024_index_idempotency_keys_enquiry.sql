-- Issue 34 (T3-7): retention and erasure delete an enquiry's idempotency
-- row (its key and a fingerprint of what the family wrote) by enquiry id.
CREATE INDEX idempotency_keys_enquiry ON idempotency_keys (enquiry_id);
