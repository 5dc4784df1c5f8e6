-- no-transaction
-- Issue 31: nothing looks an enquiry up by email_hash or phone_hash any
-- more (see the SQLite migration 0030): a hash-keyed index written on every
-- intake for no reader. Dropped without holding off writes; one statement
-- per file, as PostgreSQL runs several sent at once as one transaction.
DROP INDEX CONCURRENTLY IF EXISTS enquiries_email_hash;
