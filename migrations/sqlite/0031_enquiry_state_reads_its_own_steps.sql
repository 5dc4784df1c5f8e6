-- The state view (0018) read each enquiry's steps through the status index:
-- without statistics, SQLite's planner took `deliveries_due (status, …)` for
-- `d.status = 'failed'` (and 'held', 'expired') over the enquiry's own key,
-- so every step written (the triggers of 0018 compute the state on each
-- insert and status change) walked every failed, held and expired step of
-- the whole history, reading each row to compare its enquiry. Those rows
-- only grow (failed steps stay for staff, expired ones for audit): at a
-- year of history with a few hundred of them, a step's insert took three
-- times as long as on an empty database (BENCHMARKS.md, issue 31).
--
-- The unary `+` keeps the status terms off the index, so each subquery
-- reads the enquiry's own one to three steps through
-- `deliveries (enquiry_id, step)`, whatever the history. Same results.
DROP VIEW enquiry_computed_state;
CREATE VIEW enquiry_computed_state AS
SELECT e.id, CASE
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND +d.status = 'failed') THEN 'failed'
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND +d.status = 'held') THEN 'held'
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND +d.status IN ('pending', 'sending', 'waiting')) THEN 'waiting'
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND +d.status = 'expired') THEN 'closed'
    ELSE 'sent' END AS state
  FROM enquiries e;
