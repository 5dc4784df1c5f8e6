//! Ninja Forms, Webhooks add-on: the key/value args set in the action, each
//! value a field's merge tag (POST; Ninja Forms cannot set headers, so the
//! token travels as the URL's last segment). Name the keys as ours and
//! nothing needs mapping.

use super::Shape;

pub(super) const SHAPE: Shape = Shape {
    defaults: &[("message", "care_requirements")],
    ignore: &[],
    entry_id: None,
};
