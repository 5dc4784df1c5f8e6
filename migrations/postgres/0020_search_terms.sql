-- Staff search without opening every enquiry (issue 30): each enquiry's
-- search terms, one row each. A term is the hex HMAC of a kind and a
-- normalised value (a whole email address, a phone number's digits, a word
-- of a name; see src/storage/search_terms.rs), keyed like email_hash, so
-- the table names nobody to a reader without the key. Written with the
-- payload, in the same transaction, and deleted by enquiry id wherever the
-- payload is cleared (retention, a console delete, an erasure).
--
-- The key holds a term's enquiries in arrival order, so a search reads
-- one term's matches from the index already sorted and pages on
-- (received_at, enquiry_id) without reading the enquiries it skips.
CREATE TABLE enquiry_terms (
    term        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    enquiry_id  TEXT NOT NULL,
    PRIMARY KEY (term, received_at, enquiry_id)
);
CREATE INDEX enquiry_terms_enquiry ON enquiry_terms (enquiry_id);

-- Which enquiries may still lack their terms: 1 for every row stored
-- before this migration, 0 for each row this release writes (it writes
-- the terms with the row). Rows the previous release writes while a
-- rolling upgrade runs take the default, so they are not missed either.
-- A background pass at start-up (and `enquiries rekey`) opens each pending
-- payload in the service (it may be sealed, so SQL cannot), writes its
-- terms and sets 0, 500 rows a transaction. Scrubbed rows keep their 1:
-- they have nothing to index and the partial index below leaves them out.
--
-- A constant default adds the column without rewriting the table (SQLite;
-- PostgreSQL 11 and later). The partial index holds only pending rows
-- with a payload: its build reads the table once, and it is empty once
-- the backfill is done.
ALTER TABLE enquiries ADD COLUMN terms_pending INTEGER NOT NULL DEFAULT 1;
CREATE INDEX enquiries_terms_pending ON enquiries (id)
    WHERE terms_pending = 1 AND payload IS NOT NULL;
