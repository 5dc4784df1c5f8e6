//! Value types as operators write them, outside any one module: durations
//! (`"30s"`), byte sizes (`"64KiB"`), rates (`"10/10m"`) and the values of a
//! home's visiting hours. Configuration reads them, and so do the commands,
//! the rate limiter and the visit slots; this module imports nothing else of
//! the crate.

mod byte_size;
mod duration;
mod rate;
mod visit;

pub use byte_size::{ByteSizeError, parse_byte_size};
pub use duration::{DurationError, format_duration, parse_duration};
pub use rate::Rate;
pub use visit::{ClosedDate, Host, VISIT_TYPES, VisitType, VisitWindow, Zone};
