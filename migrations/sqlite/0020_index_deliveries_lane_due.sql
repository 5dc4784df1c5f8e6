-- Issue 31: each delivery lane reads only its own due rows. The worker's
-- lanes (a CareHQ account, the fallback email, each destination, the steps
-- no lane sends) claim by step; with only deliveries_due (status,
-- next_attempt_at) a lane with nothing due walked every due row of every
-- other lane (a destination that is down, a paused account) on each pass.
-- Keyed by step, then time: a lane reads one range per step in time order
-- and stops at its limit (ClaimScope::due_rows, src/storage/models.rs).
-- Partial: only rows a claim can take, so it does not grow with history.
-- deliveries_due stays: the lease-expired read, retention and the status
-- figures use it.
CREATE INDEX deliveries_lane_due ON deliveries (step, next_attempt_at)
    WHERE status IN ('pending', 'sending');
