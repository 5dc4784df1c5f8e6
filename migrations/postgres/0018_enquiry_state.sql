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
--
-- Safe on a large table: a constant default adds the column without
-- rewriting the table, and the fill updates only enquiries with a delivery
-- not yet synced (the unfinished few and the closed). The index builds
-- below hold off writes (not reads) while they run: about a second per
-- index per million enquiries on a 2-core machine (BENCHMARKS.md).
ALTER TABLE enquiries ADD COLUMN state TEXT NOT NULL DEFAULT 'sent';

CREATE FUNCTION enquiry_state_of(enquiry TEXT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiry AND d.status = 'failed') THEN 'failed'
        WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiry AND d.status = 'held') THEN 'held'
        WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiry AND d.status IN ('pending', 'sending', 'waiting')) THEN 'waiting'
        WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiry AND d.status = 'expired') THEN 'closed'
        ELSE 'sent' END
$$;

-- The state of each enquiry computed from its steps: what the triggers
-- store, and what tests compare the stored state with.
CREATE VIEW enquiry_computed_state AS SELECT e.id, enquiry_state_of(e.id) AS state FROM enquiries e;

UPDATE enquiries SET state = enquiry_state_of(id)
 WHERE id IN (SELECT enquiry_id FROM deliveries WHERE status <> 'synced');

-- Two transactions may change two steps of one enquiry at once (two
-- destinations recording outcomes). Each locks the enquiry row first and
-- only then reads the steps, in a statement of its own, so under READ
-- COMMITTED the later one sees the earlier one's committed step and the
-- stored state is the state of all steps. The write is skipped when the
-- state did not change.
CREATE FUNCTION deliveries_keep_state() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    now_state TEXT;
BEGIN
    PERFORM 1 FROM enquiries WHERE id = NEW.enquiry_id FOR UPDATE;
    now_state := enquiry_state_of(NEW.enquiry_id);
    UPDATE enquiries SET state = now_state
     WHERE id = NEW.enquiry_id AND state IS DISTINCT FROM now_state;
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_keep_state_on_insert AFTER INSERT ON deliveries
FOR EACH ROW EXECUTE FUNCTION deliveries_keep_state();

-- A claim (pending -> sending) or a retry (sending -> pending) changes no
-- state and does not fire.
CREATE TRIGGER deliveries_keep_state_on_update AFTER UPDATE OF status ON deliveries
FOR EACH ROW
WHEN ((CASE OLD.status WHEN 'sending' THEN 'pending' WHEN 'waiting' THEN 'pending' ELSE OLD.status END)
   IS DISTINCT FROM (CASE NEW.status WHEN 'sending' THEN 'pending' WHEN 'waiting' THEN 'pending' ELSE NEW.status END))
EXECUTE FUNCTION deliveries_keep_state();

-- 2. Finished deliveries counted as they finish. What is unfinished
--    (pending, sending, waiting, failed, held) is small and is counted
--    from the status index; synced and expired rows are most of history,
--    so /status and /metrics read these totals instead of counting them.
--    Nothing deletes deliveries, so a row only ever enters or leaves a
--    finished status through an INSERT or an UPDATE of its status.
--    Intake never writes here (its first step is never finished), so
--    families' posts do not queue on these rows.
CREATE TABLE delivery_totals (
    site   TEXT NOT NULL,
    step   TEXT NOT NULL,
    status TEXT NOT NULL,               -- synced | expired
    n      BIGINT NOT NULL,
    PRIMARY KEY (site, step, status)
);
INSERT INTO delivery_totals (site, step, status, n)
SELECT e.site, d.step, d.status, COUNT(*)
  FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id
 WHERE d.status IN ('synced', 'expired')
 GROUP BY e.site, d.step, d.status;

CREATE FUNCTION deliveries_count_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IN ('synced', 'expired') THEN
        UPDATE delivery_totals SET n = n - 1
         WHERE step = OLD.step AND status = OLD.status
           AND site = (SELECT site FROM enquiries WHERE id = OLD.enquiry_id);
    END IF;
    IF NEW.status IN ('synced', 'expired') THEN
        INSERT INTO delivery_totals (site, step, status, n)
        SELECT e.site, NEW.step, NEW.status, 1 FROM enquiries e WHERE e.id = NEW.enquiry_id
        ON CONFLICT (site, step, status) DO UPDATE SET n = delivery_totals.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_count_finished_on_insert AFTER INSERT ON deliveries
FOR EACH ROW WHEN (NEW.status IN ('synced', 'expired'))
EXECUTE FUNCTION deliveries_count_finished();

CREATE TRIGGER deliveries_count_finished_on_update AFTER UPDATE OF status ON deliveries
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
      AND (OLD.status IN ('synced', 'expired') OR NEW.status IN ('synced', 'expired')))
EXECUTE FUNCTION deliveries_count_finished();

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
