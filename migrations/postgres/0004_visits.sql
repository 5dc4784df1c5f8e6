-- Home visit booking (issue 6). A visit request is stored with its enquiry; its
-- delivery is a second `deliveries` row (step 'home_visit') that stays
-- 'waiting' until the enquiry's row is synced, then becomes 'pending'.

CREATE TABLE visit_requests (
    enquiry_id TEXT PRIMARY KEY REFERENCES enquiries (id),
    site       TEXT NOT NULL,
    slot_at    BIGINT NOT NULL,            -- slot start, Unix ms
    local_time TEXT NOT NULL,               -- 'YYYY-MM-DD HH:MM:SS' in the home's zone, as sent to CareHQ
    time_zone  TEXT NOT NULL,               -- the zone local_time is in (IANA name)
    visit_type TEXT NOT NULL,               -- in_person | virtual
    created_at BIGINT NOT NULL
);

-- How many visits each slot holds: one row per booked slot, raised with a
-- conditional upsert so a full slot cannot be overbooked by concurrent posts.
CREATE TABLE visit_slots (
    site    TEXT NOT NULL,
    slot_at BIGINT NOT NULL,
    taken   BIGINT NOT NULL,
    PRIMARY KEY (site, slot_at)
);
