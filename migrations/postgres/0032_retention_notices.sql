-- Issue 34 (T3-14): a retention rule that starts to remove data kept until
-- now (retention.failed: enquiries with a failed step) is announced before
-- it first applies. One row per rule: when an instance first warned about
-- it; the rule applies from a fixed notice period after that, on every
-- instance and across restarts.
CREATE TABLE retention_notices (
    setting         TEXT PRIMARY KEY,       -- 'failed'
    first_warned_at BIGINT NOT NULL         -- Unix ms
);
