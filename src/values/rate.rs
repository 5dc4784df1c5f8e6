//! Rates as operators write them: "N/duration", e.g. `"10/10m"`.

use std::str::FromStr;
use std::time::Duration;

use super::duration::parse_duration;

/// `N` posts per `per`: a bucket of `N` tokens refilled evenly over `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn every(count: u32, secs: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(secs),
        }
    }

    /// `"10/10m"` → 10 per 10 minutes.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (count, per) = text.split_once('/').ok_or_else(|| {
            format!("\"{text}\" is not a rate; write posts/duration, e.g. \"10/10m\"")
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!(
                    "\"{text}\": the count before / must be a whole number above 0, e.g. \"10/10m\""
                )
            })?;
        let per = parse_duration(per.trim()).map_err(|e| format!("\"{text}\": {e}"))?;
        if per.is_zero() {
            return Err(format!(
                "\"{text}\": the duration after / must be above zero, e.g. \"10/10m\""
            ));
        }
        Ok(Rate { count, per })
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Rate, String> {
        Rate::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_explain_mistakes() {
        assert_eq!(
            Rate::parse("10/10m").unwrap(),
            Rate {
                count: 10,
                per: Duration::from_secs(600)
            }
        );
        assert_eq!(Rate::parse(" 300 / 1h ").unwrap().count, 300);
        for bad in ["10", "0/1m", "x/1m", "10/", "10/0s", "10/10"] {
            assert!(Rate::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
