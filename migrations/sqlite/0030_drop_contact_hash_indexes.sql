-- Issue 31: nothing looks an enquiry up by email_hash or phone_hash any
-- more (a person is found through their search terms, `email` and `phone`,
-- since migration 0019), yet both indexes were written on every intake.
-- Their keys are hashes, so each enquiry landed on a page of its own in
-- each: two of the pages every group commit wrote (and fsynced) per
-- enquiry, more as the table grows. The columns stay (rows stay for audit;
-- erasure and retention still clear them).
DROP INDEX IF EXISTS enquiries_email_hash;
DROP INDEX IF EXISTS enquiries_phone_hash;
