//! Contact Form 7, through a CF7-to-webhook plugin: the posted fields as
//! they are, the default form's `your-name`, `your-email`, `your-subject`
//! and `your-message`, with CF7's hidden `_wpcf7*` fields, which are never
//! copied into the message.

use super::Shape;

pub(super) const SHAPE: Shape = Shape {
    defaults: &[
        ("your-name", "name"),
        ("your-email", "email"),
        ("your-phone", "phone"),
        ("your-tel", "phone"),
        ("your-message", "care_requirements"),
    ],
    ignore: &["_wpcf7*", "g-recaptcha-response", "_wp_http_referer"],
    entry_id: None,
};
