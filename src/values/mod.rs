//! Value types as operators write them, outside any one module: durations
//! (`"30s"`), byte sizes (`"64KiB"`), rates (`"10/10m"`), names and slugs,
//! URLs and addresses, and the values of a home's visiting hours. Configuration reads them, and so do the commands,
//! the rate limiter and the visit slots; this module imports nothing else of
//! the crate.

mod byte_size;
mod duration;
mod moment;
mod names;
mod rate;
mod visit;
mod web;

pub use byte_size::{ByteSizeError, parse_byte_size};
pub use duration::{DurationError, format_duration, parse_duration};
pub use moment::{format_utc_minute, format_utc_second};
pub use names::{FieldName, Service, Slug};
pub use rate::Rate;
pub use visit::{ClosedDate, Host, VISIT_HOSTS, VISIT_TYPES, VisitType, VisitWindow, Zone};
pub use web::{BaseUrl, Email, HttpUrl, ListenAddr, Net, SecureUrl};

/// Each newtype hands over what it wraps, so a config field can be read as
/// the newtype and kept as the plain value (`fields::via`).
macro_rules! unwraps_to {
    ($($newtype:ident => $inner:ty),* $(,)?) => {$(
        impl From<$newtype> for $inner {
            fn from(value: $newtype) -> $inner {
                value.0
            }
        }
    )*};
}

unwraps_to! {
    Slug => String, Service => String, FieldName => String, HttpUrl => String,
    BaseUrl => String, SecureUrl => String, ListenAddr => std::net::SocketAddr,
    Net => ipnet::IpNet, Email => lettre::message::Mailbox, ClosedDate => jiff::civil::Date,
}
