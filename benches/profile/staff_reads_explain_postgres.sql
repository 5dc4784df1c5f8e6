-- The staff reads (issue 30) at 1,000,000 enquiries on PostgreSQL: the same
-- data as staff_reads_explain.py (50 homes, ~550 a day over five years, a
-- fixed backlog), with the triggers of migration 0018 on, then each read's
-- EXPLAIN ANALYZE. In a scratch database with migrations/postgres applied:
--   psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE staff_reads'
--   for f in migrations/postgres/*.sql; do psql -h 127.0.0.1 -U postgres -d staff_reads -q -f $f; done
--   psql -h 127.0.0.1 -U postgres -d staff_reads -f benches/profile/staff_reads_explain_postgres.sql
-- Seeded with triggers off (one transaction updating the same fifty totals
-- rows a million times would walk ever longer row-version chains), then the
-- state and totals filled as migration 0018 fills them.
\set now 1796000000000
\set day 86400000
\set step 157090
SET session_replication_role = replica;
INSERT INTO enquiries (id, site, received_at, payload, spam_verdict)
SELECT 'e' || lpad(i::text, 7, '0'), 'home-' || lpad((i % 50)::text, 2, '0'), :now - i * :step, NULL, 'clean'
  FROM generate_series(0::bigint, 999999) i;
INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at, ambiguous)
SELECT 'd' || lpad(i::text, 7, '0'), 'e' || lpad(i::text, 7, '0'), 'enquiry',
       CASE WHEN i < 300 THEN 'pending' WHEN i < 360 THEN 'failed' WHEN i < 480 THEN 'held'
            WHEN i < 580 THEN 'expired' ELSE 'synced' END,
       :now - i * :step, :now - i * :step, :now - i * :step, CASE WHEN i % 1000 = 7 THEN 1 ELSE 0 END
  FROM generate_series(0::bigint, 999999) i;
SET session_replication_role = origin;
UPDATE enquiries SET state = enquiry_state_of(id)
 WHERE id IN (SELECT enquiry_id FROM deliveries WHERE status <> 'synced');
INSERT INTO delivery_totals (site, step, status, n)
SELECT e.site, d.step, d.status, COUNT(*) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id
 WHERE d.status IN ('synced', 'expired') GROUP BY e.site, d.step, d.status;
VACUUM ANALYZE;
\timing on
-- list, first page
EXPLAIN ANALYZE SELECT e.id, e.site, e.received_at, e.state, (SELECT MIN(CASE WHEN d.status IN ('pending', 'sending') THEN d.next_attempt_at END) FROM deliveries d WHERE d.enquiry_id = e.id), e.payload
  FROM enquiries e ORDER BY e.received_at DESC, e.id DESC LIMIT 51;
-- list, page 500 (keyset)
EXPLAIN ANALYZE SELECT e.id, e.site, e.received_at, e.state, (SELECT MIN(CASE WHEN d.status IN ('pending', 'sending') THEN d.next_attempt_at END) FROM deliveries d WHERE d.enquiry_id = e.id), e.payload
  FROM enquiries e WHERE (e.received_at, e.id) < (:now - 25000::bigint * :step, 'e0025000') ORDER BY e.received_at DESC, e.id DESC LIMIT 51;
-- list, state=failed
EXPLAIN ANALYZE SELECT e.id, e.site, e.received_at, e.state, e.payload
  FROM enquiries e WHERE e.state = 'failed' ORDER BY e.received_at DESC, e.id DESC LIMIT 51;
-- list, an account's 3 homes
EXPLAIN ANALYZE SELECT * FROM (SELECT e.id, e.site, e.received_at FROM enquiries e WHERE e.site = 'home-01' ORDER BY e.received_at DESC, e.id DESC LIMIT 51) AS home0
  UNION ALL SELECT * FROM (SELECT e.id, e.site, e.received_at FROM enquiries e WHERE e.site = 'home-02' ORDER BY e.received_at DESC, e.id DESC LIMIT 51) AS home1
  UNION ALL SELECT * FROM (SELECT e.id, e.site, e.received_at FROM enquiries e WHERE e.site = 'home-03' ORDER BY e.received_at DESC, e.id DESC LIMIT 51) AS home2
  ORDER BY 3 DESC, 1 DESC LIMIT 51;
-- search (terms): one range per key the first word may be stored under, merged
EXPLAIN ANALYZE SELECT p.id, p.site, p.received_at, p.state, (SELECT MIN(CASE WHEN d.status IN ('pending', 'sending') THEN d.next_attempt_at END) FROM deliveries d WHERE d.enquiry_id = p.id), p.payload FROM (
 SELECT * FROM (SELECT e.id AS id, e.site AS site, e.received_at AS received_at, e.state AS state, e.payload AS payload FROM enquiry_terms t JOIN enquiries e ON e.id = t.enquiry_id WHERE t.term = 'x1' ORDER BY t.received_at DESC, t.enquiry_id DESC LIMIT 51) AS r0
 UNION ALL SELECT * FROM (SELECT e.id AS id, e.site AS site, e.received_at AS received_at, e.state AS state, e.payload AS payload FROM enquiry_terms t JOIN enquiries e ON e.id = t.enquiry_id WHERE t.term = 'x2' ORDER BY t.received_at DESC, t.enquiry_id DESC LIMIT 51) AS r1
 ORDER BY received_at DESC, id DESC LIMIT 51) AS p ORDER BY p.received_at DESC, p.id DESC;
-- overview, 30 days per day
EXPLAIN ANALYZE SELECT e.site, (e.received_at - (:now - 30::bigint * :day)) / :day, e.state, COUNT(*) FROM enquiries e
  WHERE e.received_at >= :now - 30::bigint * :day GROUP BY 1, 2, 3;
-- status, unfinished
EXPLAIN ANALYZE SELECT e.site, d.step, d.status, COUNT(*), MIN(COALESCE(d.pending_since, d.created_at))
  FROM deliveries d CROSS JOIN enquiries e WHERE e.id = d.enquiry_id AND d.status IN ('pending', 'sending', 'waiting', 'failed', 'held') GROUP BY 1, 2, 3;
-- status, finished totals
EXPLAIN ANALYZE SELECT site, step, status, n FROM delivery_totals WHERE n <> 0;
-- status, synced last 24 h
EXPLAIN ANALYZE SELECT e.site, d.step, COUNT(*) FROM deliveries d CROSS JOIN enquiries e
  WHERE e.id = d.enquiry_id AND d.status = 'synced' AND d.updated_at >= :now - :day GROUP BY 1, 2;
-- status, ambiguous
EXPLAIN ANALYZE SELECT COUNT(*) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id WHERE d.ambiguous > 0;
-- status, latest hint
EXPLAIN ANALYZE SELECT a.started_at, d.enquiry_id FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
  JOIN enquiries e ON e.id = d.enquiry_id WHERE a.hint IS NOT NULL ORDER BY a.started_at DESC LIMIT 1;
-- retention, synced to scrub
EXPLAIN ANALYZE SELECT e.id FROM enquiries e WHERE e.payload IS NOT NULL AND e.spam_verdict IN ('clean', 'partner')
  AND e.received_at < :now - 30::bigint * :day AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id)
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status <> 'synced')
  ORDER BY e.received_at LIMIT 500;
