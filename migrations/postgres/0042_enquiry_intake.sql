-- Which way each enquiry came in (issue 36): "hosted form", "site form",
-- "webhook <name>", "partner helparound". NULL for enquiries stored before
-- this column, which staff see as "not recorded". Adding a nullable column
-- without a default rewrites nothing.
ALTER TABLE enquiries ADD COLUMN intake TEXT;
