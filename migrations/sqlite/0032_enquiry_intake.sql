-- Which way each enquiry came in (issue 36): "hosted form", "site form",
-- "webhook <name>", "partner helparound". NULL for enquiries stored before
-- this column, which staff see as "not recorded".
ALTER TABLE enquiries ADD COLUMN intake TEXT;
