//! `CareHqId`: the Id of a CareHQ record (a location, a referrer or sales
//! channel group), 24 hexadecimal characters, kept lower case so Ids compare
//! as strings whatever case they were copied in.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// `Default` is the empty Id: a placeholder only, for a required config key
/// that is unset (the load then fails, so it never reaches CareHQ).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CareHqId(String);

impl CareHqId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The message leaves out where to look the Id up: that depends on the key
/// (`carehq locations` or `carehq groups --type …`), which the caller adds.
impl FromStr for CareHqId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Self(text.to_ascii_lowercase()));
        }
        Err(format!(
            "\"{text}\" is not a CareHQ Id; expected 24 hexadecimal characters"
        ))
    }
}

impl Deref for CareHqId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CareHqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for CareHqId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_upper_case_and_are_stored_lower_case() {
        let id: CareHqId = "6724FBC74F73A2CEBF6377FA".parse().unwrap();
        assert_eq!(id, "6724fbc74f73a2cebf6377fa");
        for bad in ["6724fbc74f73a2cebf6377f", "6724fbc74f73a2cebf6377fg"] {
            let error = bad.parse::<CareHqId>().unwrap_err();
            assert!(
                error.contains(&format!("\"{bad}\" is not a CareHQ Id")),
                "{error}"
            );
        }
    }
}
