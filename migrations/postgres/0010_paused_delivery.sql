-- The delivery whose answer paused delivery (401/403): pause probes try
-- other rows first, so a refusal particular to that row (a key without
-- "Home visits > Create" refusing a visit) does not hold back every enquiry.
ALTER TABLE delivery_state ADD COLUMN paused_delivery_id TEXT;
