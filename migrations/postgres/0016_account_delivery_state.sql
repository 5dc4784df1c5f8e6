-- Delivery state per CareHQ account (issue 15): a 401/403 for one account's
-- credentials pauses that account only, and /status reports each apart.
-- The single row of delivery_state becomes the 'default' account ([carehq]);
-- rows for [[accounts]] entries are added at start-up.
CREATE TABLE account_delivery_state (
    account            TEXT PRIMARY KEY,
    paused_reason      TEXT,
    paused_status      BIGINT,
    paused_at          BIGINT,
    paused_delivery_id TEXT,
    last_success_at    BIGINT,
    last_error_at      BIGINT,
    last_error         TEXT
);
INSERT INTO account_delivery_state
    (account, paused_reason, paused_status, paused_at, paused_delivery_id,
     last_success_at, last_error_at, last_error)
SELECT 'default', paused_reason, paused_status, paused_at, paused_delivery_id,
       last_success_at, last_error_at, last_error
  FROM delivery_state WHERE id = 1;
DROP TABLE delivery_state;

-- A pause is now an incident per account: 'paused:<account>'.
UPDATE alert_incidents SET kind = 'paused:default' WHERE kind = 'paused';
