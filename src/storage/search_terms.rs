//! Search terms: the keyed hashes an enquiry is found by, kept in
//! `enquiry_terms` (migration 0019) so that a console search or a
//! subject-access lookup is an index lookup instead of opening every stored
//! enquiry; and the terms a console search looks for.
//!
//! A term is the hex HMAC of a kind and a normalised value (see
//! `Sealing::term`): keyed by the newest key of `database.encryption_key_file`
//! when it is set, by the public lookup key on a plain database. An
//! enquiry's terms are written under the newest key only; a search looks
//! each word up under every key, so rows not yet rekeyed are still found.
//!
//! An enquiry carries, each once:
//! - `email`: its email field, trimmed and lower case (as `email_hash`);
//! - `phone`: its phone field's national digits (as `phone_hash`);
//! - `name`: each word of `first_name` and `last_name` (see [`name_words`]);
//! - `mention`: every other whole email address, and every other number
//!   written as a phone number (7 to 15 digits), anywhere in what the family
//!   wrote, including what it first wrote before a staff correction. Only
//!   `enquiries export` and `erase` look these up: a partner's enrollment
//!   names the patient's address in labelled lines, and the person is to
//!   be found there too. The console search does not.

use std::collections::BTreeSet;

use serde_json::Value;

use super::models::EnquiryId;
use super::sealing::{Sealing, normal_email, normal_phone};
use super::{Store, StoreError};

/// What a term says a value is; part of what is hashed, so the same text
/// as a name word and as an address never give the same term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Email,
    Phone,
    Name,
    Mention,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Name => "name",
            Kind::Mention => "mention",
        }
    }
}

/// Fewer digits than this in a query are not taken for a phone number.
const QUERY_PHONE_DIGITS: usize = 6;
/// A number elsewhere in the enquiry is a mention with this many digits
/// (E.164 allows at most 15); fewer would be times, prices, dates.
const MENTION_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;
/// Terms per INSERT statement: 3 parameters each stays far below either
/// database's limit on parameters, whatever an enquiry holds.
const INSERT_CHUNK: usize = 100;

/// A console search as stored terms: one inner list per word of the query, holding that
/// word's term under each lookup key. An enquiry matches when it carries a term from every list.
///
/// Inner lists are never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TermQuery(pub Vec<Vec<String>>);

impl Store {
    /// The terms a console search for `text` looks for; `None` when there
    /// is nothing to search for (blank, or no letter or digit in it).
    ///
    /// Text holding `@` is one whole email address; else text that is only
    /// digits and `+ - ( ) .` and spaces, with at least 6 digits, is one
    /// whole phone number in any spacing; else it is name words, every one
    /// of which must match a whole word of the first or last name.
    pub(super) fn term_query(&self, text: &str) -> Option<TermQuery> {
        query_words(text).map(|words| {
            TermQuery(
                (words.iter())
                    .map(|(kind, normal)| self.sealing.term_lookups(kind.label(), normal))
                    .collect(),
            )
        })
    }

    /// [`Store::term_query`]'s lists, for tests and tools that read
    /// `enquiry_terms` themselves: an enquiry matches when it carries a
    /// term from every list.
    pub fn search_terms(&self, text: &str) -> Option<Vec<Vec<String>>> {
        self.term_query(text).map(|q| q.0)
    }
}

/// The words of a console search, each with its kind and normal form.
fn query_words(text: &str) -> Option<Vec<(Kind, String)>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.contains('@') {
        return normal_email(text).map(|e| vec![(Kind::Email, e)]);
    }
    let compact: String = (text.chars())
        .filter(|c| !matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'))
        .collect();
    if compact.len() >= QUERY_PHONE_DIGITS && compact.chars().all(|c| c.is_ascii_digit()) {
        return normal_phone(text).map(|p| vec![(Kind::Phone, p)]);
    }
    let words: Vec<(Kind, String)> = (name_words(text).into_iter())
        .map(|w| (Kind::Name, w))
        .collect();
    (!words.is_empty()).then_some(words)
}

/// The words of a name as stored and searched: split on whitespace and
/// `-`, lower case, letters and digits only ("O'Brien" is "obrien",
/// "Smith-Jones" is "smith" and "jones"), empty ones dropped, each once.
pub(super) fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for part in name.split(|c: char| c.is_whitespace() || c == '-') {
        let word: String = (part.chars())
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if !word.is_empty() && !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// The terms of a stored enquiry (`payload`, its JSON; `original`, what
/// the family first wrote when staff corrected it), under the newest key,
/// each once. Text that is not JSON carries none.
pub(super) fn enquiry_terms(
    sealing: &Sealing,
    payload: &str,
    original: Option<&str>,
) -> Vec<String> {
    let terms: BTreeSet<String> = (enquiry_values(payload, original).iter())
        .map(|(kind, normal)| sealing.term(kind.label(), normal))
        .collect();
    terms.into_iter().collect()
}

/// What [`enquiry_terms`] hashes: each kind and normalised value, once.
fn enquiry_values(payload: &str, original: Option<&str>) -> BTreeSet<(Kind, String)> {
    let mut values = BTreeSet::new();
    let Ok(value) = serde_json::from_str::<Value>(payload) else {
        return values;
    };
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let email = field("email").and_then(normal_email);
    let phone = field("phone").and_then(normal_phone);
    values.extend(email.iter().map(|e| (Kind::Email, e.clone())));
    values.extend(phone.iter().map(|p| (Kind::Phone, p.clone())));
    for name in [field("first_name"), field("last_name")]
        .into_iter()
        .flatten()
    {
        values.extend(name_words(name).into_iter().map(|w| (Kind::Name, w)));
    }
    let original = original.and_then(|o| serde_json::from_str::<Value>(o).ok());
    for text in strings(&value).chain(original.iter().flat_map(strings)) {
        // The email and phone fields are found by their own kind already.
        let mentions = addresses(text)
            .chain(numbers(text))
            .filter(|m| Some(m) != email.as_ref() && Some(m) != phone.as_ref());
        values.extend(mentions.map(|m| (Kind::Mention, m)));
    }
    values
}

/// A subject access or erasure request's address and number, normalised:
/// found as an enquiry's own field or as a mention.
pub(super) struct Contact {
    email: Option<String>,
    phone: Option<String>,
}

impl Contact {
    pub(super) fn new(email: Option<&str>, phone: Option<&str>) -> Contact {
        Contact {
            email: email.and_then(normal_email),
            phone: phone.and_then(normal_phone),
        }
    }

    fn values(&self) -> impl Iterator<Item = (Kind, &String)> {
        let email = self.email.iter().map(|e| (Kind::Email, e));
        let phone = self.phone.iter().map(|p| (Kind::Phone, p));
        email.chain(phone)
    }

    /// The terms it is looked up by, under every key.
    pub(super) fn lookups(&self, sealing: &Sealing) -> Vec<String> {
        let mut lookups = Vec::new();
        for (kind, normal) in self.values() {
            lookups.extend(sealing.term_lookups(kind.label(), normal));
            lookups.extend(sealing.term_lookups(Kind::Mention.label(), normal));
        }
        lookups
    }

    /// Whether the enquiry would carry one of its terms: the same rule,
    /// without hashing, for an enquiry whose terms are not written yet.
    pub(super) fn named_in(&self, payload: &str, original: Option<&str>) -> bool {
        if !std::iter::once(payload)
            .chain(original)
            .any(|t| self.may_be_in(t))
        {
            return false;
        }
        let stored = enquiry_values(payload, original);
        self.values().any(|(kind, normal)| {
            stored.contains(&(kind, normal.clone()))
                || stored.contains(&(Kind::Mention, normal.clone()))
        })
    }

    /// Why an enquiry is the contact's, in words, for the operator to check
    /// before an erasure or an export acts on it: each field holding the
    /// address or the number, and a number as it was written there (two
    /// numbers written side by side with only a space between read as one).
    /// The same rule as the terms; empty when it does not name the contact.
    pub(super) fn reasons(&self, payload: &str, original: Option<&str>) -> Vec<String> {
        let mut reasons = Vec::new();
        self.reasons_in(payload, "", &mut reasons);
        if let Some(original) = original {
            let first = " (as first written, before a staff correction)";
            self.reasons_in(original, first, &mut reasons);
        }
        let mut seen = BTreeSet::new();
        reasons.retain(|r| seen.insert(r.clone()));
        reasons
    }

    fn reasons_in(&self, json: &str, suffix: &str, reasons: &mut Vec<String>) {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) else {
            return;
        };
        for (name, value) in &fields {
            for text in strings(value) {
                if let Some(email) = &self.email {
                    if name == "email" && normal_email(text).as_ref() == Some(email) {
                        reasons.push(format!("its email field{suffix}"));
                    } else if addresses(text).any(|a| &a == email) {
                        reasons.push(format!("the address, written in {name}{suffix}"));
                    }
                }
                if let Some(phone) = &self.phone {
                    if name == "phone" && normal_phone(text).as_ref() == Some(phone) {
                        reasons.push(format!("its phone field{suffix}"));
                        continue;
                    }
                    for run in number_runs(text) {
                        if normal_phone(run).as_ref() == Some(phone) {
                            reasons.push(format!(
                                "the number written \"{}\" in {name}{suffix}",
                                as_written(text, run)
                            ));
                        }
                    }
                }
            }
        }
    }

    /// A quick test, true of every text that names the contact, that rules
    /// out nearly every other one without parsing it: the address in the
    /// lower-cased text (an address with other than ASCII is not tested);
    /// the number's digits, leading zeros aside, among the text's digits
    /// (what `national_digits` keeps of a number is a run of them).
    fn may_be_in(&self, text: &str) -> bool {
        let email = (self.email.as_deref())
            .is_some_and(|e| !e.is_ascii() || text.to_lowercase().contains(e));
        let phone = self.phone.as_deref().is_some_and(|p| {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            digits.contains(p.trim_start_matches('0'))
        });
        email || phone
    }
}

/// Every string in a JSON value, nested ones included.
fn strings(value: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Value::String(s) => Box::new(std::iter::once(s.as_str())),
        Value::Array(items) => Box::new(items.iter().flat_map(strings)),
        Value::Object(map) => Box::new(map.values().flat_map(strings)),
        _ => Box::new(std::iter::empty()),
    }
}

/// The whole email addresses in `text`, normalised: words of the
/// characters an address is written with, holding `@` inside.
fn addresses(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || "._%+-@".contains(c)))
        .filter(|w| w.len() > 2 && w.contains('@') && !w.starts_with('@') && !w.ends_with('@'))
        .filter_map(normal_email)
}

/// The numbers written as phone numbers in `text`, normalised.
fn numbers(text: &str) -> impl Iterator<Item = String> + '_ {
    number_runs(text).filter_map(normal_phone)
}

/// The numbers in `text` as written: each a whole run of digits and the
/// characters a number is spaced with, bounded by anything else (a letter,
/// a comma), holding [`MENTION_DIGITS`] digits. A number is matched as a
/// whole run, never as digits gathered across the text or a part of a
/// longer number: "room 0163, bed 2960123" holds no "01632 960123".
fn number_runs(text: &str) -> impl Iterator<Item = &str> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || " +-()./".contains(c)))
        .map(|run| run.trim_start_matches(|c: char| !(c.is_ascii_digit() || c == '+')))
        .filter(|run| MENTION_DIGITS.contains(&run.chars().filter(char::is_ascii_digit).count()))
}

/// `run` (a part of `text`) as the family wrote it: with the `(` it opens
/// with, which matching skips ("(01632) 960-123").
fn as_written<'t>(text: &'t str, run: &'t str) -> &'t str {
    let start = (run.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let opened = start > 0
        && text
            .get(..start)
            .is_some_and(|before| before.ends_with('('));
    let start = if opened { start - 1 } else { start };
    text.get(start..start + (run.len() + usize::from(opened)))
        .unwrap_or(run)
        .trim()
}

/// Why the enquiry (`payload`, and `original` when staff corrected it)
/// names the person of `email` or `phone`: see `Contact::reasons`. For
/// `enquiries erase` and `export`, which show it beside each match.
pub fn match_reasons(
    email: Option<&str>,
    phone: Option<&str>,
    payload: &str,
    original: Option<&str>,
) -> Vec<String> {
    Contact::new(email, phone).reasons(payload, original)
}

/// Store `terms` for the new enquiry `enquiry_id`, in the caller's transaction.
pub(super) async fn insert_terms(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    enquiry_id: &EnquiryId,
    received_at: i64,
    terms: &[String],
) -> Result<(), StoreError> {
    for chunk in terms.chunks(INSERT_CHUNK) {
        let rows = (0..chunk.len())
            .map(|n| format!("(${}, $1, $2)", n + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO enquiry_terms (term, received_at, enquiry_id) VALUES {rows} ON CONFLICT DO NOTHING"
        );
        // Only placeholders are spliced in; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(received_at)
            .bind(enquiry_id);
        for term in chunk {
            query = query.bind(term.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Replace the terms of `enquiry_id` with `terms` (its payload changed), in
/// the caller's transaction.
pub(super) async fn replace_terms(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    enquiry_id: &EnquiryId,
    received_at: i64,
    terms: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM enquiry_terms WHERE enquiry_id = $1")
        .bind(enquiry_id)
        .execute(&mut **tx)
        .await?;
    insert_terms(tx, enquiry_id, received_at, terms).await
}

#[cfg(test)]
mod tests {
    use super::super::sealing::KeyRing;
    use super::*;

    /// A sealing with fresh keys of these ids, newest first.
    fn keyed(ids: &[&str]) -> Sealing {
        let lines: Vec<String> = (ids.iter())
            .map(|id| super::super::new_key_line(id).unwrap())
            .collect();
        ring(&lines)
    }

    fn ring(lines: &[String]) -> Sealing {
        Sealing::new(Some(KeyRing::parse(&lines.join("\n")).unwrap()))
    }

    fn words(text: &str) -> Option<Vec<(Kind, String)>> {
        query_words(text)
    }

    #[test]
    fn name_words_are_lower_case_letters_and_digits_split_on_spaces_and_hyphens() {
        assert_eq!(name_words("O'Brien"), ["obrien"]);
        assert_eq!(name_words("Zoë"), ["zoë"]);
        assert_eq!(
            name_words("  Mary-Jane   SMITH-jones "),
            ["mary", "jane", "smith", "jones"]
        );
        assert_eq!(name_words("ÉLODIE"), ["élodie"], "Unicode lower case");
        assert_eq!(name_words("O'Brien 7"), ["obrien", "7"]);
        assert_eq!(
            name_words("(caregiver of John Doe)"),
            ["caregiver", "of", "john", "doe"]
        );
        assert_eq!(name_words("Anne anne ANNE"), ["anne"], "each once");
        assert_eq!(
            name_words(" ' - . "),
            Vec::<String>::new(),
            "empty words dropped"
        );
    }

    #[test]
    fn a_query_is_an_address_a_number_or_name_words() {
        assert_eq!(words(""), None);
        assert_eq!(words("   "), None);
        assert_eq!(
            words(" ' - "),
            None,
            "no letter or digit: nothing to search"
        );
        assert_eq!(
            words(" Zoe@Example.COM "),
            Some(vec![(Kind::Email, "zoe@example.com".into())])
        );
        assert_eq!(
            words("+44 (1632) 960-123"),
            Some(vec![(Kind::Phone, "01632960123".into())]),
            "any spacing, national digits"
        );
        assert_eq!(
            words("01632 960123"),
            Some(vec![(Kind::Phone, "01632960123".into())])
        );
        assert_eq!(
            words("960123"),
            Some(vec![(Kind::Phone, "960123".into())]),
            "six digits are a number"
        );
        assert_eq!(
            words("12345"),
            Some(vec![(Kind::Name, "12345".into())]),
            "five are a word"
        );
        assert_eq!(
            words("Zoë O'Brien"),
            Some(vec![
                (Kind::Name, "zoë".into()),
                (Kind::Name, "obrien".into())
            ])
        );
        assert_eq!(
            words("smith SMITH"),
            Some(vec![(Kind::Name, "smith".into())])
        );
    }

    #[test]
    fn an_enquiry_is_found_by_each_query_that_names_it_whole() {
        let payload = r#"{"first_name":"Zoë","last_name":"O'Brien-Smith","email":" Zoe@Example.com",
            "phone":"+44 1632 960123","care_requirements":"5% off"}"#;
        for sealing in [Sealing::default(), keyed(&["b", "a"])] {
            let store_terms = enquiry_terms(&sealing, payload, None);
            let finds = |text: &str| {
                query_words(text).is_some_and(|words| {
                    words.iter().all(|(kind, normal)| {
                        (sealing.term_lookups(kind.label(), normal).iter())
                            .any(|t| store_terms.contains(t))
                    })
                })
            };
            assert!(finds("zoe@example.com"));
            assert!(finds("01632 960123"));
            assert!(finds("01632960123"));
            assert!(finds("o'brien"));
            assert!(finds("OBrien smith zoë"));
            assert!(!finds("smi"), "whole words only");
            assert!(!finds("zoe@example"), "whole addresses only");
            assert!(!finds("960123"), "whole numbers only");
            assert!(!finds("zoë jones"), "every word must match");
            assert!(!finds("5%"), "the message is not searched");
        }
    }

    #[test]
    fn terms_are_keyed_by_the_newest_key_and_looked_up_under_every_key() {
        let payload = r#"{"first_name":"Zoë","last_name":"Smith","email":"zoe@example.com"}"#;
        let (a, b) = (
            super::super::new_key_line("a").unwrap(),
            super::super::new_key_line("b").unwrap(),
        );
        let (plain, ba) = (Sealing::default(), ring(&[b, a.clone()]));
        let a = ring(&[a]);
        let stored_plain = enquiry_terms(&plain, payload, None);
        let stored_a = enquiry_terms(&a, payload, None);
        let stored_b = enquiry_terms(&ba, payload, None);
        assert_eq!(stored_plain.len(), 3, "email and two name words");
        assert!(stored_a.iter().all(|t| !stored_plain.contains(t)), "keyed");
        assert!(
            stored_b.iter().all(|t| !stored_a.contains(t)),
            "newest key only"
        );
        let lookups = ba.term_lookups("name", "smith");
        assert_eq!(lookups.len(), 3, "b, a and the plain key");
        for stored in [&stored_plain, &stored_a, &stored_b] {
            assert!(lookups.iter().any(|t| stored.contains(t)));
        }
        assert!(
            stored_a
                .iter()
                .all(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())),
            "hex"
        );
    }

    #[test]
    fn a_kind_is_part_of_the_term() {
        let sealing = Sealing::default();
        let as_name = sealing.term("name", "960123");
        assert_ne!(as_name, sealing.term("phone", "960123"));
        assert_ne!(as_name, sealing.term("mention", "960123"));
        let email = sealing.term("email", "zoe@example.com");
        assert!(
            !sealing.email_lookups("zoe@example.com").contains(&email),
            "not the email hash either"
        );
    }

    #[test]
    fn mentions_are_whole_addresses_and_numbers_anywhere_but_the_own_fields() {
        let sealing = Sealing::default();
        let payload = r#"{"first_name":"test","last_name":"(caregiver of John Doe)",
            "email":"test@gmail.com","phone":"01632 960123",
            "care_requirements":"Patient email: Gran@Example.org\nPatient phone: +44 7700 900123\nBest time: 10:30, 1/3/2025",
            "extra_fields":[{"label":"Other","value":"(01632) 960-999"}]}"#;
        let original = r#"{"email":"first@example.com"}"#;
        let terms = enquiry_terms(&sealing, payload, Some(original));
        let mention = |m: &str| terms.contains(&sealing.term("mention", m));
        assert!(mention("gran@example.org"), "in a labelled line");
        assert!(mention("07700900123"), "international spelling");
        assert!(mention("01632960999"), "in an extra field");
        assert!(mention("first@example.com"), "what the family first wrote");
        assert!(
            !mention("test@gmail.com"),
            "the email field is an email term"
        );
        assert!(!mention("01632960123"), "the phone field is a phone term");
        assert!(!mention("132025"), "a date is no number");
        assert_eq!(
            terms.len(),
            1 + 1 + 5 + 4,
            "email, phone, 5 name words, 4 mentions"
        );
        assert_eq!(
            enquiry_terms(&sealing, "not json", None),
            Vec::<String>::new()
        );
        let contact = Contact::new(Some("GRAN@example.org"), Some("07700 900123"));
        let lookups = contact.lookups(&sealing);
        assert_eq!(lookups.iter().filter(|t| terms.contains(t)).count(), 2);
        assert!(contact.named_in(payload, None), "the same rule unhashed");
        assert!(Contact::new(None, Some("01632960123")).named_in(payload, None));
        assert!(Contact::new(Some("first@example.com"), None).named_in(payload, Some(original)));
        assert!(!Contact::new(Some("first@example.com"), None).named_in(payload, None));
        assert!(!Contact::new(Some("gran@example.co"), None).named_in(payload, None));
    }

    /// T3-12: a number is matched as a whole run of digits and spacing,
    /// never across the digits of the whole text, nor as part of a longer
    /// number; and each match says why, with the number as written.
    #[test]
    fn a_phone_number_matches_only_as_a_whole_number_and_says_where() {
        let contact = Contact::new(None, Some("01632 960123"));
        for text in [
            "room 0163, bed 2960123",
            "ward 01632; ext. 960123",
            "ref 016329601234",
            "call 7016329601230",
        ] {
            let payload = serde_json::json!({"care_requirements": text}).to_string();
            assert!(!contact.named_in(&payload, None), "{text}");
            assert_eq!(
                contact.reasons(&payload, None),
                Vec::<String>::new(),
                "{text}"
            );
        }
        let payload =
            r#"{"phone":"+44 1632 960123","care_requirements":"or her son on (01632) 960-123"}"#;
        assert!(contact.named_in(payload, None));
        assert_eq!(
            contact.reasons(payload, None),
            [
                "its phone field",
                "the number written \"(01632) 960-123\" in care_requirements"
            ]
        );
        let corrected = r#"{"email":"zoe@example.com","message":"zoe@example.com"}"#;
        let original = r#"{"email":"ZOE@example.com "}"#;
        assert_eq!(
            match_reasons(Some("zoe@example.com"), None, corrected, Some(original)),
            [
                "its email field",
                "the address, written in message",
                "its email field (as first written, before a staff correction)"
            ]
        );
    }
}
