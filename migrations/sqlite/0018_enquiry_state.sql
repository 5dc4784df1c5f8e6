-- Staff reads bounded by what they show, not by the table (issue 30).
--
-- 1. Each enquiry's staff-visible state, stored. It was computed on every
--    read from all of the enquiry's deliveries, for every enquiry, before
--    filtering and paging. Now the triggers below keep it, in the same
--    transaction as every change of a delivery's status (intake, claim
--    outcome, retry, release, delete, erasure, expiry), so no code path can
--    forget it. Over all steps: a failed step makes the enquiry failed, then
--    held, then waiting (pending, sending, or a visit waiting for its
--    enquiry), then closed (expired: deleted by staff or held too long);
--    otherwise sent (every step synced, or no step at all).
ALTER TABLE enquiries ADD COLUMN state TEXT NOT NULL DEFAULT 'sent';
-- The state of each enquiry computed from its steps: what the triggers
-- store, and what tests compare the stored state with.
CREATE VIEW enquiry_computed_state AS
SELECT e.id, CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'failed') THEN 'failed'
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'held') THEN 'held'
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status IN ('pending', 'sending', 'waiting')) THEN 'waiting'
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'expired') THEN 'closed'
    ELSE 'sent' END AS state
  FROM enquiries e;

UPDATE enquiries SET state = (SELECT state FROM enquiry_computed_state c WHERE c.id = enquiries.id)
 WHERE id IN (SELECT enquiry_id FROM deliveries WHERE status <> 'synced');

-- The enquiry's state from its deliveries, written only when it changed
-- (an intake's first step makes it waiting; a claim, pending -> sending,
-- changes no state and does not fire: see the WHEN of the update trigger).
CREATE TRIGGER deliveries_keep_state_on_insert AFTER INSERT ON deliveries
BEGIN
    UPDATE enquiries SET state = (SELECT state FROM enquiry_computed_state WHERE id = NEW.enquiry_id)
     WHERE id = NEW.enquiry_id
       AND state IS NOT (SELECT state FROM enquiry_computed_state WHERE id = NEW.enquiry_id);
END;

CREATE TRIGGER deliveries_keep_state_on_update AFTER UPDATE OF status ON deliveries
WHEN (CASE OLD.status WHEN 'sending' THEN 'pending' WHEN 'waiting' THEN 'pending' ELSE OLD.status END)
  <> (CASE NEW.status WHEN 'sending' THEN 'pending' WHEN 'waiting' THEN 'pending' ELSE NEW.status END)
BEGIN
    UPDATE enquiries SET state = (SELECT state FROM enquiry_computed_state WHERE id = NEW.enquiry_id)
     WHERE id = NEW.enquiry_id
       AND state IS NOT (SELECT state FROM enquiry_computed_state WHERE id = NEW.enquiry_id);
END;

-- 2. Finished deliveries counted as they finish. What is unfinished
--    (pending, sending, waiting, failed, held) is small and is counted
--    from the status index; synced and expired rows are most of history,
--    so /status and /metrics read these totals instead of counting them.
--    Nothing deletes deliveries, so a row only ever enters or leaves a
--    finished status through an INSERT or an UPDATE of its status.
CREATE TABLE delivery_totals (
    site   TEXT NOT NULL,
    step   TEXT NOT NULL,
    status TEXT NOT NULL,               -- synced | expired
    n      INTEGER NOT NULL,
    PRIMARY KEY (site, step, status)
);
INSERT INTO delivery_totals (site, step, status, n)
SELECT e.site, d.step, d.status, COUNT(*)
  FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id
 WHERE d.status IN ('synced', 'expired')
 GROUP BY e.site, d.step, d.status;

CREATE TRIGGER deliveries_count_finished_on_insert AFTER INSERT ON deliveries
WHEN NEW.status IN ('synced', 'expired')
BEGIN
    INSERT INTO delivery_totals (site, step, status, n)
    SELECT e.site, NEW.step, NEW.status, 1 FROM enquiries e WHERE e.id = NEW.enquiry_id
    ON CONFLICT (site, step, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deliveries_count_finished_on_update AFTER UPDATE OF status ON deliveries
WHEN OLD.status <> NEW.status
 AND (OLD.status IN ('synced', 'expired') OR NEW.status IN ('synced', 'expired'))
BEGIN
    UPDATE delivery_totals SET n = n - 1
     WHERE OLD.status IN ('synced', 'expired') AND step = OLD.step AND status = OLD.status
       AND site = (SELECT site FROM enquiries WHERE id = OLD.enquiry_id);
    INSERT INTO delivery_totals (site, step, status, n)
    SELECT e.site, NEW.step, NEW.status, 1 FROM enquiries e
     WHERE e.id = NEW.enquiry_id AND NEW.status IN ('synced', 'expired')
    ON CONFLICT (site, step, status) DO UPDATE SET n = n + 1;
END;

-- 3. Indexes for the reads, each led by what a read filters on and ending
--    in (received_at, id), the list's keyset order: a page is a range read
--    from the last row shown, at any depth.
DROP INDEX enquiries_received;
DROP INDEX enquiries_site_received;
-- Also covers the overview's per-day counts (site and state ride along).
CREATE INDEX enquiries_received ON enquiries (received_at, id, site, state);
CREATE INDEX enquiries_site_received ON enquiries (site, received_at, id);
CREATE INDEX enquiries_state_received ON enquiries (state, received_at, id);
CREATE INDEX enquiries_site_state_received ON enquiries (site, state, received_at, id);
-- Retention looks only at enquiries still holding personal data.
CREATE INDEX enquiries_unscrubbed ON enquiries (received_at) WHERE payload IS NOT NULL;
-- "Synced in the last 24 h", and sends whose outcome is unknown.
CREATE INDEX deliveries_synced_at ON deliveries (updated_at) WHERE status = 'synced';
CREATE INDEX deliveries_ambiguous ON deliveries (enquiry_id) WHERE ambiguous > 0;
-- The latest CareHQ hint (/status); retention clears hints with the rest.
CREATE INDEX delivery_attempts_hinted ON delivery_attempts (started_at) WHERE hint IS NOT NULL;
