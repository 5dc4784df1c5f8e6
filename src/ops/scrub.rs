//! Last-line redaction of personal data in text that leaves the service for a
//! third party (error tracking). Our own log lines carry no family details by
//! design; this catches what slips through anyway (a panic message, a library's
//! error text quoting a value): anything shaped like an email address or a
//! phone number is replaced. Names and free text cannot be recognised by shape,
//! which is why the design keeps them out of logs in the first place.

use serde_json::Value;

/// Replaces email addresses with `[email]` and runs of 7 or more digits
/// (phone numbers, however they are spaced or punctuated) with `[number]`.
pub fn redact(text: &str) -> String {
    redact_numbers(&redact_emails(text))
}

/// Applies [`redact`] to every string (and object key) in a JSON tree.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::String(s) => {
            let clean = redact(s);
            if clean != *s {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                redact_json(&mut item);
                map.insert(redact(&key), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '-'
}

fn redact_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            // The local part is what `out` ends with; the domain follows.
            let local: Vec<char> = out
                .chars()
                .rev()
                .take_while(|c| is_local_char(*c))
                .collect();
            // A quote or dot before the address is the text's, not the address's.
            let local = local.len()
                - local
                    .iter()
                    .rev()
                    .take_while(|c| matches!(c, '\'' | '.'))
                    .count();
            let domain_end = (i + 1..chars.len())
                .find(|&j| !is_domain_char(chars[j]))
                .unwrap_or(chars.len());
            let domain: String = chars[i + 1..domain_end].iter().collect();
            let domain = domain.trim_end_matches('.');
            if local > 0 && domain.contains('.') && !domain.starts_with('.') {
                for _ in 0..local {
                    out.pop();
                }
                out.push_str("[email]");
                i += 1 + domain.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Characters that may sit between a phone number's digits.
fn is_number_joiner(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '/')
}

fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_number = chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts_number {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The longest run of digits and joiners that ends on a digit.
        let mut end = i + 1;
        let mut last_digit = i;
        let mut digits = usize::from(chars[i].is_ascii_digit());
        while end < chars.len() && (chars[end].is_ascii_digit() || is_number_joiner(chars[end])) {
            if chars[end].is_ascii_digit() {
                digits += 1;
                last_digit = end;
            }
            end += 1;
        }
        if digits >= 7 {
            out.push_str("[number]");
            i = last_digit + 1;
        } else {
            out.extend(&chars[i..=last_digit]);
            i = last_digit + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phone_numbers_are_replaced() {
        assert_eq!(
            redact("CareHQ said: email 'sam.taylor+care@example.co.uk' is taken"),
            "CareHQ said: email '[email]' is taken"
        );
        assert_eq!(redact("call 07700 900462 today"), "call [number] today");
        assert_eq!(redact("call +44 (0)20 7946-0958."), "call [number].");
        assert_eq!(redact("tel:01632960001"), "tel:[number]");
    }

    #[test]
    fn ordinary_text_is_kept() {
        for text in [
            "CareHQ answered 503",
            "retry in 1500 ms after attempt 3",
            "delivery 0193a7b2 failed",
            "user@localhost has no domain dot",
            "a lone @ sign",
            "",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn every_string_in_a_json_tree_is_redacted() {
        let mut value = serde_json::json!({
            "message": "sam@example.com refused",
            "values": [{"phone": "07700 900462"}, 42, null, true],
            "sam@example.org": "keyed by an email",
        });
        redact_json(&mut value);
        let text = value.to_string();
        assert!(
            !text.contains("example.com") && !text.contains("example.org"),
            "{text}"
        );
        assert!(!text.contains("900462"), "{text}");
        assert_eq!(value["values"][1], 42);
        assert_eq!(value["message"], "[email] refused");
    }
}
