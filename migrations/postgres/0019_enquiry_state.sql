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
-- Safe on a large table: the column is added by 0018 in a transaction of
-- its own (the table lock that takes lasts an instant); the fill here
-- updates only enquiries with a delivery not yet synced (the unfinished
-- few and the closed), and only deliveries are held off writes while the
-- triggers are created and the totals counted (1.1 s at 1,000,000, 3 s with
-- both cores busy: intake waits that long, once); the indexes are built
-- without holding off writes (section 3).

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

-- 3. The indexes the reads need are built by 0021-0028, one a file, each
--    `CREATE INDEX CONCURRENTLY` (outside a transaction, as PostgreSQL
--    requires): on a large table a plain build holds off every write for
--    its whole length (about 10 s at 1,000,000 enquiries on 2 cores), a
--    concurrent one none. 0018 dropped the two they replace; until the new
--    ones are built, staff reads that wanted them scan.
