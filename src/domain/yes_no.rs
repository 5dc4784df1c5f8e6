//! Yes/no answers as forms post them: checkboxes (`on`), radio values
//! (`yes`, `myself`, `someone_else`), JSON booleans (`true`) and `1`/`0`.

/// `Some(true)` / `Some(false)` for a recognised answer, `None` otherwise.
pub(crate) fn parse_yes_no(value: &str) -> Option<bool> {
    // `-` and space count as `_`: WordPress slugs radio values (`someone-else`).
    let answer: String = value
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    match answer.as_str() {
        "true" | "yes" | "on" | "1" | "self" | "myself" => Some(true),
        "false" | "no" | "off" | "0" | "someone_else" | "other" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_usual_spellings() {
        let cases = [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            (" yes ", Some(true)),
            ("on", Some(true)),
            ("1", Some(true)),
            ("self", Some(true)),
            ("Myself", Some(true)),
            ("false", Some(false)),
            ("No", Some(false)),
            ("off", Some(false)),
            ("0", Some(false)),
            ("someone_else", Some(false)),
            ("other", Some(false)),
            ("", None),
            ("maybe", None),
            ("2", None),
            ("someone-else", Some(false)),
            ("Someone else", Some(false)),
            ("someone", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_yes_no(input), want, "{input:?}");
        }
    }
}
