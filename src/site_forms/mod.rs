//! Any site's own form: a site's field names mapped onto ours
//! (`[sites.fields]`, `[[sites.webhooks]]` `fields`), and the payloads form
//! builders send by webhook read into the same shape a browser post has.
//!
//! Pure code (no I/O, no HTTP): [`field_map`] renames a submission's fields
//! and names the site's own field in each validation message; [`payload`]
//! reads a webhook body (JSON or url-encoded, nested or flat) and finds a
//! field by its literal key first (Gravity Forms' `1.3`), else by a dotted
//! path (`fields.email.value`). What the mapped submission means is still
//! decided by `domain::Enquiry::parse`, exactly as for the hosted form.

mod field_map;
mod payload;
mod presets;

pub use field_map::{FieldMap, is_target, targets};
pub use payload::{Payload, PayloadError};
pub use presets::{Preset, Shape};
