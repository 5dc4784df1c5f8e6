-- When each delivery last became pending (issue 11). `pending_age` (the
-- /status figure and the alert) counts from here, not from `created_at`, so a
-- staff retry or release of an old row is not taken for a long wait. Set at
-- intake, on retry and release, and when a visit's enquiry is synced; kept
-- through retryable failures (the row never stopped waiting). NULL while a
-- row is not waiting to be sent (held, a visit waiting for its enquiry);
-- readers fall back to created_at. Rows waiting now start from created_at.
ALTER TABLE deliveries ADD COLUMN pending_since INTEGER;
UPDATE deliveries SET pending_since = created_at WHERE status IN ('pending', 'sending');

-- A visit waiting for an enquiry that failed gives its place in the slot back
-- (visit_slots.taken - 1) and notes when here. If the enquiry is synced
-- later, the visit takes a place again before it is sent, or fails (another
-- family has the slot) with a message for staff.
ALTER TABLE visit_requests ADD COLUMN slot_freed_at INTEGER;

-- Visits already waiting for a failed enquiry give their places back now.
UPDATE visit_slots SET taken = MAX(0, taken - (
    SELECT COUNT(*) FROM visit_requests v
     WHERE v.site = visit_slots.site AND v.slot_at = visit_slots.slot_at
       AND EXISTS (SELECT 1 FROM deliveries w WHERE w.enquiry_id = v.enquiry_id AND w.step = 'home_visit' AND w.status = 'waiting')
       AND EXISTS (SELECT 1 FROM deliveries e WHERE e.enquiry_id = v.enquiry_id AND e.step = 'enquiry' AND e.status = 'failed')));
UPDATE visit_requests SET slot_freed_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
 WHERE EXISTS (SELECT 1 FROM deliveries w WHERE w.enquiry_id = visit_requests.enquiry_id AND w.step = 'home_visit' AND w.status = 'waiting')
   AND EXISTS (SELECT 1 FROM deliveries e WHERE e.enquiry_id = visit_requests.enquiry_id AND e.step = 'enquiry' AND e.status = 'failed');
