-- Each enquiry's staff-visible state, stored (issue 30; 0019 fills it and
-- keeps it), and the two indexes 0021 and 0022 rebuild under the same names
-- in a wider form. On its own so the table lock these take lasts an
-- instant: a constant default adds the column without rewriting the table.
ALTER TABLE enquiries ADD COLUMN state TEXT NOT NULL DEFAULT 'sent';
DROP INDEX enquiries_received;
DROP INDEX enquiries_site_received;
