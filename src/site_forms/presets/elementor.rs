//! Elementor Pro, the form's Webhook action (url-encoded; Elementor cannot
//! set headers, so the token travels as the URL's last segment). Simple
//! data is keyed by each field's label, followed by the metadata lines
//! (Date, Time, Page URL, User Agent, Remote IP, Powered by); advanced data
//! nests `form[…]`, `fields[<id>][title|value|raw_value|…]` and
//! `meta[<key>][title|value]`. The default form's fields are Name, Email
//! and Message (ids `name`, `email`, `message`).

use super::Shape;

pub(super) const SHAPE: Shape = Shape {
    defaults: &[
        ("Name", "name"),
        ("fields.name.value", "name"),
        ("Email", "email"),
        ("fields.email.value", "email"),
        ("Phone", "phone"),
        ("fields.phone.value", "phone"),
        ("Message", "care_requirements"),
        ("fields.message.value", "care_requirements"),
    ],
    ignore: &[
        "form",
        "meta",
        "form_id",
        "form_name",
        "Date",
        "Time",
        "Page URL",
        "User Agent",
        "Remote IP",
        "Powered by",
    ],
    entry_id: None,
};
