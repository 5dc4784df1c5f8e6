.print '### Q1 claim UPDATE (lane: default account, non-demo sites)'
EXPLAIN QUERY PLAN UPDATE deliveries SET status = 'sending', lease_owner = 'x', next_attempt_at = 1, updated_at = 1, ambiguous = ambiguous + CASE WHEN status = 'sending' THEN 1 ELSE 0 END WHERE id IN (SELECT id FROM deliveries WHERE status IN ('pending', 'sending') AND next_attempt_at <= 1 AND step IN ('enquiry', 'home_visit') AND enquiry_id NOT IN (SELECT id FROM enquiries WHERE site IN ('lark-rise')) ORDER BY next_attempt_at LIMIT 4) RETURNING id, enquiry_id, step, attempts, ambiguous;
.print '### Q2 SELECT id FROM deliveries sending lease'
EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE status = 'sending' AND next_attempt_at <= 1;
.print '### Q3 MIN next_attempt_at, step IN + enquiry_id IN (SELECT ... site IN)'
EXPLAIN QUERY PLAN SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'sending') AND step IN ('enquiry', 'home_visit') AND enquiry_id IN (SELECT id FROM enquiries WHERE site IN ('lark-rise'));
.print '### Q4 MIN next_attempt_at, step NOT IN'
EXPLAIN QUERY PLAN SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'sending') AND step NOT IN ('enquiry','home_visit','fallback_email','a','b');
.print '### Q5 MIN next_attempt_at, step IN (one)'
EXPLAIN QUERY PLAN SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'sending') AND step IN ('destination:demo-records');
.print '### Q6 release waiting visit after synced enquiry'
EXPLAIN QUERY PLAN UPDATE deliveries SET status = 'pending', next_attempt_at = 1, updated_at = 1, pending_since = 1 WHERE status = 'waiting' AND enquiry_id IN (SELECT enquiry_id FROM deliveries WHERE id = 'x' AND step = 'enquiry');
.print '### Q7 outcome UPDATE'
EXPLAIN QUERY PLAN UPDATE deliveries SET status = 'synced', attempts = attempts + 1, remote_id = 'r', lease_owner = NULL, last_error = NULL, updated_at = 1 WHERE id = 'x' AND ((status = 'sending' AND lease_owner = 'o') OR (0 = 1 AND status IN ('pending', 'sending')));
.print '### Q8 visit lookup'
EXPLAIN QUERY PLAN SELECT v.local_time, v.time_zone, v.visit_type, d.status, d.remote_id, v.site, v.slot_at, v.slot_freed_at FROM visit_requests v LEFT JOIN deliveries d ON d.enquiry_id = v.enquiry_id AND d.step = 'enquiry' WHERE v.enquiry_id = 'x';
.print '### Q9 status GROUP BY (/status, /metrics)'
EXPLAIN QUERY PLAN SELECT e.site, d.step, d.status, COUNT(*), MIN(COALESCE(d.pending_since, d.created_at)), SUM(CASE WHEN d.status = 'synced' AND d.updated_at >= 1 THEN 1 ELSE 0 END) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id WHERE 1 = 1  GROUP BY e.site, d.step, d.status ORDER BY e.site, d.step;
.print '### Q10 ambiguous COUNT'
EXPLAIN QUERY PLAN SELECT COUNT(*) FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id WHERE d.ambiguous > 0;
.print '### Q11 waiting visits with failed enquiry COUNT'
EXPLAIN QUERY PLAN SELECT COUNT(*) FROM deliveries w JOIN enquiries e ON e.id = w.enquiry_id WHERE w.step = 'home_visit' AND w.status = 'waiting'  AND EXISTS (SELECT 1 FROM deliveries f WHERE f.enquiry_id = w.enquiry_id AND f.step = 'enquiry' AND f.status = 'failed');
.print '### Q12 latest hint'
EXPLAIN QUERY PLAN SELECT a.started_at, d.enquiry_id FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN enquiries e ON e.id = d.enquiry_id WHERE a.hint IS NOT NULL  ORDER BY a.started_at DESC LIMIT 1;
.print '### Q13 retention scrub'
EXPLAIN QUERY PLAN UPDATE enquiries SET payload = NULL, original_payload = NULL, email_hash = NULL, phone_hash = NULL, scrubbed_at = 2 WHERE payload IS NOT NULL AND id IN ( SELECT e.id FROM enquiries e WHERE e.payload IS NOT NULL AND e.spam_verdict IN ('clean', 'partner') AND e.received_at < 1 AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status <> 'synced') ORDER BY e.received_at LIMIT 500) RETURNING id;
.print '### Q14 retention expire held'
EXPLAIN QUERY PLAN UPDATE deliveries SET status = 'expired', updated_at = 2, next_attempt_at = 2 WHERE status IN ('held', 'waiting') AND enquiry_id IN (SELECT e.id FROM enquiries e JOIN deliveries h ON h.enquiry_id = e.id WHERE h.status = 'held' AND e.received_at < 1);
.print '### Q15 retention idempotency DELETE'
EXPLAIN QUERY PLAN DELETE FROM idempotency_keys WHERE (site, key) IN (SELECT site, key FROM idempotency_keys WHERE created_at < 1 LIMIT 500);
.print '### Q16 account_delivery_state clear'
EXPLAIN QUERY PLAN UPDATE account_delivery_state SET last_error = NULL WHERE last_error IS NOT NULL AND last_error_at < 1;
.print '### Q17 intake idempotency DELETE'
EXPLAIN QUERY PLAN DELETE FROM idempotency_keys WHERE site = 'demo' AND key = 'k' AND created_at < 1;
.print '### Q18 payload read'
EXPLAIN QUERY PLAN SELECT site, payload FROM enquiries WHERE id = 'x';
