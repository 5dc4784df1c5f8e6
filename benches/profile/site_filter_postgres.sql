-- The lane site filter at 1,000,000 enquiries on PostgreSQL (see
-- site_filter.py). In a scratch database with migrations/postgres applied:
--   psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE site_filter'
--   for f in migrations/postgres/*.sql; do psql -h 127.0.0.1 -U postgres -d site_filter -q -f $f; done
--   psql -h 127.0.0.1 -U postgres -d site_filter -f benches/profile/site_filter_postgres.sql
SET session_replication_role = replica;
INSERT INTO enquiries (id, site, received_at, payload, spam_verdict)
SELECT 'e'||i, CASE WHEN i%2=0 THEN 'a' ELSE 'b' END, i, NULL, 'clean' FROM generate_series(1,1000000) i;
INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at)
SELECT 'd'||i, 'e'||i, 'enquiry', CASE WHEN i>50 THEN 'synced' ELSE 'pending' END, i, i, i FROM generate_series(1,1000000) i;
ANALYZE;
EXPLAIN ANALYZE SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending','sending') AND step IN ('enquiry','home_visit')
  AND enquiry_id IN (SELECT id FROM enquiries WHERE site IN ('a'));
EXPLAIN ANALYZE SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending','sending') AND step IN ('enquiry','home_visit')
  AND EXISTS (SELECT 1 FROM enquiries e WHERE e.id = deliveries.enquiry_id AND e.site IN ('a'));
EXPLAIN ANALYZE SELECT id FROM deliveries WHERE status IN ('pending','sending') AND next_attempt_at <= 1000000000
  AND step IN ('enquiry','home_visit')
  AND NOT EXISTS (SELECT 1 FROM enquiries e WHERE e.id = deliveries.enquiry_id AND e.site IN ('a'))
  ORDER BY next_attempt_at LIMIT 4 FOR UPDATE SKIP LOCKED;
