-- An enquiry staff corrected in the console (after CareHQ refused named
-- fields) keeps what the family first wrote here; payload holds the
-- corrected enquiry that is sent. NULL for every enquiry never edited.
-- Scrubbed with payload: it is the same personal data.
ALTER TABLE enquiries ADD COLUMN original_payload TEXT;
