-- Webhook events from partners (HelpAround): one row per event, whatever
-- the partner retries. The unique key is the event's identity as the partner
-- documents it, so a repeat (even ten at once) stores nothing new: it loses
-- on this index inside the transaction that would store its enquiry.
-- An enrollment's row names the enquiry it created; a user action's row
-- names the enrollment's enquiry it belongs to and what the patient did.
CREATE TABLE partner_events (
    id          TEXT PRIMARY KEY,
    partner     TEXT NOT NULL,
    site        TEXT NOT NULL,
    program_id  TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    event_name  TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    enquiry_id  TEXT NOT NULL,
    action      TEXT,
    received_at INTEGER NOT NULL,
    UNIQUE (partner, site, program_id, patient_id, event_name, sent_at)
);
CREATE INDEX partner_events_by_patient ON partner_events (partner, site, patient_id);
CREATE INDEX partner_events_by_enquiry ON partner_events (enquiry_id);
