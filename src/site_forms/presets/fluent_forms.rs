//! Fluent Forms (Pro), Webhook integration with "all fields": each input by
//! its name attribute, the Name field nested (`names.first_name`,
//! `names.last_name`), and the submission's own record under `__submission`
//! (its `id` is the entry id; its `ip`, `browser` and `device` describe the
//! visitor and are never copied).

use super::Shape;

pub(super) const SHAPE: Shape = Shape {
    defaults: &[
        ("names.first_name", "first_name"),
        ("names.last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("message", "care_requirements"),
    ],
    ignore: &["__submission", "_fluentform_*", "_wp_http_referer"],
    entry_id: Some("__submission.id"),
};
