-- Issue 34 (T3-18): what an enrollment said, kept with its event key as a
-- keyed fingerprint (hex HMAC-SHA256 of the enquiry it became, under a key
-- the server derives from its CareHQ secret, never stored here). A repeat of
-- the key with another fingerprint is a corrected re-send, answered 409
-- instead of as a repeat. NULL: a user action, or an enrollment stored before
-- this migration (a repeat of it is answered as a repeat, as before).
-- Read only with the row the event's unique key finds: no index.
ALTER TABLE partner_events ADD COLUMN fingerprint TEXT;
