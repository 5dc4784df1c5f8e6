-- no-transaction
-- Issue 31: as 0040, for phone_hash.
DROP INDEX CONCURRENTLY IF EXISTS enquiries_phone_hash;
