//! Sizes as operators write them: a plain byte count (`65536`) or a number with
//! a decimal (`KB`, `MB`, `GB`) or binary (`KiB`, `MiB`, `GiB`) unit.
//!
//! Hand-written rather than `bytesize::ByteSize: FromStr` (2.7.0), which the
//! config's messages rule out (issue 35): run over the same inputs, bytesize
//! refuses `" 2 MB "` (accepted here), accepts `"1.5MiB"`, `"5TB"`, `"64k"`
//! and `"1mib"` (refused here with a message naming the units), and reports
//! only a free-text reason ("couldn't parse \"KiB\" into a ByteSize, cannot
//! parse float from empty string") that cannot be told apart into the three
//! messages below.

/// Why a size was refused; the message says how to write it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    #[error(
        "\"{0}\" is not a size; write bytes (65536) or a whole number with a unit, e.g. \"64KiB\", \"1MiB\", \"500KB\""
    )]
    Invalid(String),
    #[error("\"{0}\" has an unknown unit; use B, KB, MB, GB (1000s) or KiB, MiB, GiB (1024s)")]
    UnknownUnit(String),
    #[error("\"{0}\" is too large")]
    TooLarge(String),
}

/// Parses `65536`, `"65536"`, `"64KiB"`, `"1 MiB"`, `"500KB"` into bytes.
/// Units are matched without regard to case except the binary `i`.
pub fn parse_byte_size(text: &str) -> Result<usize, ByteSizeError> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    if number.is_empty() {
        return Err(ByteSizeError::Invalid(trimmed.to_owned()));
    }
    let multiplier: u64 = match unit.trim_start() {
        "" | "B" | "b" => 1,
        "KB" | "kB" | "kb" | "Kb" => 1_000,
        "MB" | "mb" | "Mb" => 1_000_000,
        "GB" | "gb" | "Gb" => 1_000_000_000,
        "KiB" | "kiB" | "Ki" => 1 << 10,
        "MiB" | "Mi" => 1 << 20,
        "GiB" | "Gi" => 1 << 30,
        other if other.starts_with(['.', ',']) => {
            return Err(ByteSizeError::Invalid(trimmed.to_owned()));
        }
        _ => return Err(ByteSizeError::UnknownUnit(trimmed.to_owned())),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| ByteSizeError::TooLarge(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_bytes_and_units() {
        assert_eq!(parse_byte_size("65536"), Ok(65_536));
        assert_eq!(parse_byte_size("64KiB"), Ok(65_536));
        assert_eq!(parse_byte_size("1MiB"), Ok(1_048_576));
        assert_eq!(parse_byte_size("500KB"), Ok(500_000));
        assert_eq!(parse_byte_size(" 2 MB "), Ok(2_000_000));
        assert_eq!(parse_byte_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_byte_size("100B"), Ok(100));
    }

    #[test]
    fn refuses_malformed_sizes() {
        use ByteSizeError::{Invalid, TooLarge, UnknownUnit};
        type Case = (&'static str, fn(String) -> ByteSizeError);
        let cases: [Case; 6] = [
            ("KiB", Invalid),
            ("-1", Invalid),
            ("1.5MiB", Invalid),
            ("64 kilobytes", UnknownUnit),
            ("5TB", UnknownUnit),
            ("99999999999999999999", TooLarge),
        ];
        for (text, error) in cases {
            assert_eq!(parse_byte_size(text), Err(error(text.into())), "{text}");
        }
    }
}
