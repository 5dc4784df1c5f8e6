//! Value types as operators write them, outside any one module: durations
//! (`"30s"`), byte sizes (`"64KiB"`), rates (`"10/10m"`), names and slugs,
//! URLs and addresses, and the values of a home's visiting hours. Configuration reads them, and so do the commands,
//! the rate limiter and the visit slots; this module imports nothing else of
//! the crate.

/// Newtypes that check text as it is read (`FromStr`, whose error says what
/// to write) and hand over the plain value they wrap, so a config field can
/// be read as the newtype and kept as that value (`fields::via`).
macro_rules! checked {
    ($($(#[$doc:meta])* $name:ident($inner:ty) = |$text:ident| $parse:expr;)+) => {$(
        $(#[$doc])*
        pub struct $name(pub $inner);

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str($text: &str) -> Result<Self, String> {
                $parse.map(Self)
            }
        }

        impl From<$name> for $inner {
            fn from(value: $name) -> $inner {
                value.0
            }
        }
    )+};
}
use checked;

mod byte_size;
mod duration;
mod moment;
mod names;
mod rate;
mod visit;
mod web;

pub use byte_size::{ByteSizeError, parse_byte_size};
pub use duration::{Delay, DurationError, format_duration, parse_duration};
pub use moment::{format_utc_minute, format_utc_second};
pub use names::{FieldName, Service, Slug};
pub use rate::Rate;
pub use visit::{ClosedDate, Host, VISIT_HOSTS, VISIT_TYPES, VisitType, VisitWindow, Zone};
pub use web::{BaseUrl, Email, HttpUrl, ListenAddr, Net, SecureUrl};
