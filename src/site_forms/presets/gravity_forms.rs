//! Gravity Forms, Webhooks Add-On. "All fields" sends the whole entry: each
//! answer keyed by its input id (`1.3` first name, `1.6` last name of a Name
//! field, `2` a single-input field), ids that differ per form, so the hook's
//! `fields` maps them; beside them the entry's own metadata. "Select
//! fields" sends only the keys chosen in the feed: choose our names
//! (`first_name`, `email`, …) and nothing needs mapping.

use super::Shape;

pub(super) const SHAPE: Shape = Shape {
    defaults: &[],
    ignore: &[
        "id",
        "form_id",
        "post_id",
        "date_created",
        "date_updated",
        "is_starred",
        "is_read",
        "source_url",
        "source_id",
        "currency",
        "payment_status",
        "payment_date",
        "payment_amount",
        "payment_method",
        "transaction_id",
        "transaction_type",
        "is_fulfilled",
        "created_by",
        "status",
    ],
    entry_id: Some("id"),
};
