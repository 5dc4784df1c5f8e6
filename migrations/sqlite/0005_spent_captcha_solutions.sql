-- Spent ALTCHA solutions, shared by every instance on this database: the
-- first insert of a challenge's digest wins, so a solution accepted by one
-- instance is refused by all others. `tag` is a digest of the site and
-- idempotency key of the post that spent it (a repeat of that post may pass);
-- rows are pruned once `expires_at` (Unix ms, the challenge's own expiry) passes.
CREATE TABLE spent_captcha_solutions (
    digest     TEXT PRIMARY KEY,
    tag        TEXT,
    expires_at INTEGER NOT NULL
);
CREATE INDEX spent_captcha_solutions_expiry ON spent_captcha_solutions (expires_at);
