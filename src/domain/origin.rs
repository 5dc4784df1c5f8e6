//! `Origin`: a web origin, `scheme://host[:port]` with nothing after it, kept
//! in the form browsers send in the `Origin` header (lower-case host, default
//! port dropped) so an allowed origin and a request's compare as strings.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use reqwest::Url;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
        });
        let Some(url) = url else {
            return Err(format!(
                "\"{text}\" is not an origin; expected scheme://host[:port], e.g. \"https://example-care.co.uk\""
            ));
        };
        let origin = url.origin().ascii_serialization();
        let bare = url.path() == "/"
            && !text.ends_with('/')
            && url.query().is_none()
            && url.fragment().is_none();
        if !bare {
            return Err(format!(
                "\"{text}\" is not an origin: origins have no path, query or trailing /; write \"{origin}\""
            ));
        }
        Ok(Self(origin))
    }
}

impl Deref for Origin {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// So a list of origins can be `join`ed into a header value.
impl Borrow<str> for Origin {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for Origin {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        for (text, origin) in [
            ("https://Example-Care.co.uk", "https://example-care.co.uk"),
            ("https://x.org:443", "https://x.org"),
            ("http://localhost:3000", "http://localhost:3000"),
        ] {
            assert_eq!(text.parse::<Origin>().unwrap(), origin);
        }
        for bad in [
            "https://x.org/",
            "https://x.org/contact",
            "x.org",
            "ftp://x.org",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
        let error = "https://x.org/contact".parse::<Origin>().unwrap_err();
        assert!(error.contains("write \"https://x.org\""), "{error}");
    }
}
