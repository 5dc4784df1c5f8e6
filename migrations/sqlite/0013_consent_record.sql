-- Which consent wording the family agreed to, kept beside the enquiry rather
-- than only in its payload: the payload is scrubbed by retention, and the
-- record of consent (a version and the wording's SHA-256, neither personal)
-- is the care provider's to keep.
ALTER TABLE enquiries ADD COLUMN consent_version TEXT;
ALTER TABLE enquiries ADD COLUMN consent_sha256 TEXT;
