//! WPForms, Webhooks addon: the request body is the key/value pairs set in
//! the webhook's settings (JSON or form), each value a form field. Name the
//! keys as ours (`name`, `email`, `phone`, `message`) and nothing needs
//! mapping; `{entry_id}` under a key named by the hook's `entry_id` makes a
//! re-send a repeat.

use super::Shape;

pub(super) const SHAPE: Shape = Shape {
    defaults: &[("message", "care_requirements")],
    ignore: &[],
    entry_id: None,
};
