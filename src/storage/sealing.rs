//! Personal data encrypted at rest (`database.encryption_key_file`): the key
//! file, sealing and opening stored values, and the keyed hashes that let an
//! email address or phone number be looked up without storing it readable.
//!
//! The key file holds one key a line, `KEYID:BASE64`, where `KEYID` is 1–32
//! of `A-Z a-z 0-9 _ -` and `BASE64` is 32 random bytes (standard alphabet;
//! `enquiry-relay keygen` writes one). Blank lines and `#` comments are
//! skipped. The FIRST key seals every new value; every key opens what it
//! sealed, so keys are rotated by putting a new line first, restarting
//! every instance and running `enquiries rekey` until a run meets nothing
//! sealed with the old key (see `rekey.rs`), after which the old line can go.
//!
//! A sealed value is `v2:KEYID:BASE64(nonce || ciphertext+tag)` with AES-256-GCM,
//! a random 96-bit nonce per value and, as associated data, where it is
//! stored ([`Place`]: table, column, row), so a sealed value copied to
//! another row or column does not open there. `v1:` values (no associated
//! data, written before) still open; `enquiries rekey` rewrites them as
//! `v2:`. Only a value of exactly that shape
//! (a well-formed key id, then at least a nonce and a tag of base64) is
//! taken for sealed; anything else is read as plain text, so a plain
//! database keeps working, `enquiries rekey` seals it in place, and staff's
//! note "v1: spam" stays a note. The shape, not the store's key file,
//! decides: a plain store meeting a sealed value says which key it needs
//! rather than showing the ciphertext as text.
//!
//! The lookup hash is HMAC-SHA256 over the normalised address (lower case) or
//! number (national digits) with a key derived from each encryption key (an
//! HMAC of a fixed label), so a copy of the database does not reveal who
//! wrote even by guessing addresses. A plain database hashes with a fixed,
//! public key: one code path, no secrecy claimed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::StoreError;

/// Marks a sealed value of format version 1: no associated data.
const PREFIX_V1: &str = "v1:";
/// Marks a sealed value of format version 2: its [`Place`] as associated data.
const PREFIX_V2: &str = "v2:";

/// Where a sealed value is stored: its table, column and row (the row's
/// id). Bound into the value (format `v2:`), so it opens only there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a str,
}

impl<'a> Place<'a> {
    pub fn new(table: &'static str, column: &'static str, row: &'a str) -> Place<'a> {
        Place { table, column, row }
    }

    /// `enquiries.payload` of the enquiry `id`.
    pub fn payload(id: &'a str) -> Place<'a> {
        Place::new("enquiries", "payload", id)
    }

    /// `enquiries.original_payload` of the enquiry `id`.
    pub fn original_payload(id: &'a str) -> Place<'a> {
        Place::new("enquiries", "original_payload", id)
    }

    /// `delivery_attempts.hint` of the attempt `id`.
    pub fn hint(id: &'a str) -> Place<'a> {
        Place::new("delivery_attempts", "hint", id)
    }

    /// `delivery_attempts.arg_errors` of the attempt `id`.
    pub fn arg_errors(id: &'a str) -> Place<'a> {
        Place::new("delivery_attempts", "arg_errors", id)
    }

    /// `audit_log.reason` of the record `id`.
    pub fn reason(id: &'a str) -> Place<'a> {
        Place::new("audit_log", "reason", id)
    }

    /// `audit_log.detail` of the record `id`.
    pub fn detail(id: &'a str) -> Place<'a> {
        Place::new("audit_log", "detail", id)
    }

    /// The associated data: `table.column:row`.
    fn aad(&self) -> Vec<u8> {
        format!("{}.{}:{}", self.table, self.column, self.row).into_bytes()
    }
}
/// AES-GCM's standard nonce length.
const NONCE_LEN: usize = 12;
/// AES-GCM's tag length: even an empty value seals to nonce + tag.
const TAG_LEN: usize = 16;
/// The fewest base64 characters a sealed value carries (nonce + tag, padded).
const MIN_BODY_LEN: usize = (NONCE_LEN + TAG_LEN).div_ceil(3) * 4;
/// Label the lookup key is derived under, so it is never the cipher key.
const LOOKUP_LABEL: &[u8] = b"enquiry-relay lookup hash v1";
/// The lookup key of a plain database: public, for one code path only.
const PLAIN_LOOKUP_KEY: &[u8] = b"enquiry-relay plain lookup hash v1";

/// One key of the file.
struct Key {
    id: String,
    cipher: Aes256Gcm,
    /// HMAC key for the lookup hashes of values sealed under this key.
    lookup: Zeroizing<[u8; 32]>,
}

/// The keys of `database.encryption_key_file`, newest first.
pub struct KeyRing {
    keys: Vec<Key>,
}

/// Key bytes never reach a log: only the ids are shown.
impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Read and check a key file. Errors name the file and the line, never
    /// the key bytes.
    pub fn from_file(path: &Path) -> Result<KeyRing, StoreError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            StoreError::Keys(format!(
                "database.encryption_key_file {} could not be read: {e}",
                path.display()
            ))
        })?);
        KeyRing::parse(&text).map_err(|problem| {
            StoreError::Keys(format!(
                "database.encryption_key_file {}: {problem}",
                path.display()
            ))
        })
    }

    /// Parse the file's text (see the module header for the format).
    pub fn parse(text: &str) -> Result<KeyRing, String> {
        let mut keys: Vec<Key> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line_no = n + 1;
            let Some((id, encoded)) = line.split_once(':') else {
                return Err(format!(
                    "line {line_no} is not KEYID:BASE64 (make one with `enquiry-relay keygen`)"
                ));
            };
            let id = id.trim();
            if !valid_id(id) {
                return Err(format!(
                    "line {line_no}: a key id is 1 to 32 of A-Z, a-z, 0-9, _ and -"
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("line {line_no}: key id `{id}` appears twice"));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| format!("line {line_no} (key `{id}`) is not valid base64"))?,
            );
            if bytes.len() != 32 {
                return Err(format!(
                    "line {line_no} (key `{id}`) is {} bytes; AES-256 needs exactly 32",
                    bytes.len()
                ));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| format!("line {line_no} (key `{id}`) is not a usable key"))?;
            let lookup = Zeroizing::new(hmac_sha256(&bytes, LOOKUP_LABEL));
            keys.push(Key {
                id: id.to_owned(),
                cipher,
                lookup,
            });
        }
        if keys.is_empty() {
            return Err("holds no key (make one with `enquiry-relay keygen`)".into());
        }
        Ok(KeyRing { keys })
    }

    /// Key ids, newest (the one that seals) first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the key that seals new values.
    pub fn newest(&self) -> &str {
        &self.keys[0].id
    }

    fn newest_key(&self) -> &Key {
        &self.keys[0]
    }
}

/// A fresh key file line: `KEYID:BASE64` of 32 random bytes.
pub fn new_key_line(id: &str) -> Result<String, String> {
    if !valid_id(id) {
        return Err("a key id is 1 to 32 of A-Z, a-z, 0-9, _ and -".into());
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..]).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("{id}:{}", STANDARD.encode(&bytes[..])))
}

/// The id of the key a stored value is sealed with; `None` for plain text.
pub(super) fn sealed_key_id(stored: &str) -> Option<&str> {
    sealed_parts(stored).map(|(_, id, _)| id)
}

/// A sealed value's format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `v1:`, sealed without associated data.
    V1,
    /// `v2:`, sealed with its [`Place`].
    V2,
}

/// A stored value's format, key id and base64 body, when it has the shape
/// [`Sealing::seal`] writes (or wrote): `v2:` (or `v1:`), a valid key id,
/// `:`, then nothing but base64 characters, at least a nonce and a tag of
/// them. Text that only starts with `v1:` or `v2:` is plain. The body's
/// decoding is left to [`Sealing::open`], so a sealed value altered or cut
/// short (but still that long) is reported as corrupt rather than shown as
/// text.
fn sealed_parts(stored: &str) -> Option<(Format, &str, &str)> {
    let (format, rest) = match stored.strip_prefix(PREFIX_V2) {
        Some(rest) => (Format::V2, rest),
        None => (Format::V1, stored.strip_prefix(PREFIX_V1)?),
    };
    let (id, body) = rest.split_once(':')?;
    let base64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
    (valid_id(id) && body.len() >= MIN_BODY_LEN && body.bytes().all(base64))
        .then_some((format, id, body))
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// What the store seals with: the key ring, or none (a plain database).
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Sealing {
    keys: Option<Arc<KeyRing>>,
}

impl fmt::Debug for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.keys {
            Some(keys) => write!(f, "Sealing({:?})", keys.ids()),
            None => f.write_str("Sealing(plain)"),
        }
    }
}

/// The email and phone lookup hashes of one enquiry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactHashes {
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Sealing {
    pub fn new(keys: Option<KeyRing>) -> Sealing {
        Sealing {
            keys: keys.map(Arc::new),
        }
    }

    /// The key ring, when values are sealed.
    pub fn keys(&self) -> Option<&KeyRing> {
        self.keys.as_deref()
    }

    /// Whether new values are sealed.
    pub fn is_on(&self) -> bool {
        self.keys.is_some()
    }

    /// `plain` as it is to be stored at `place`: sealed with the newest key
    /// and bound to `place` (`v2:`), or as it is on a plain database.
    pub fn seal(&self, plain: &str, place: Place<'_>) -> Result<String, StoreError> {
        let Some(keys) = &self.keys else {
            return Ok(plain.to_owned());
        };
        let key = keys.newest_key();
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| StoreError::Keys(format!("no randomness for a nonce: {e}")))?;
        let aad = place.aad();
        let payload = aes_gcm::aead::Payload {
            msg: plain.as_bytes(),
            aad: &aad,
        };
        let sealed = (key.cipher.encrypt(&nonce.into(), payload))
            .map_err(|_| StoreError::Keys("a value could not be encrypted".into()))?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX_V2}{}:{}", key.id, STANDARD.encode(bytes)))
    }

    /// [`Sealing::seal`] of an optional value.
    pub fn seal_opt(
        &self,
        plain: Option<&str>,
        place: Place<'_>,
    ) -> Result<Option<String>, StoreError> {
        plain.map(|p| self.seal(p, place)).transpose()
    }

    /// A value stored at `place` as plain text. Values not in the sealed
    /// shape are returned as they are; a `v2:` value opens only at the place
    /// it was sealed for (a `v1:` one, written before places, anywhere). A
    /// value that cannot be opened is an error of its row alone:
    /// [`StoreError::SealedKeyMissing`] or [`StoreError::SealedCorrupt`].
    pub fn open(&self, stored: String, place: Place<'_>) -> Result<String, StoreError> {
        let Some((format, id, encoded)) = sealed_parts(&stored) else {
            return Ok(stored);
        };
        let missing = |key_file_set| StoreError::SealedKeyMissing {
            key_id: id.to_owned(),
            key_file_set,
        };
        let corrupt = |problem| StoreError::SealedCorrupt {
            key_id: id.to_owned(),
            problem,
        };
        let keys = self.keys.as_ref().ok_or_else(|| missing(false))?;
        let key = (keys.keys.iter().find(|k| k.id == id)).ok_or_else(|| missing(true))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| corrupt("its base64 does not decode"))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt("too short for a nonce and a tag"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| corrupt("its nonce is not 12 bytes"))?;
        let aad = match format {
            Format::V1 => Vec::new(),
            Format::V2 => place.aad(),
        };
        let payload = aes_gcm::aead::Payload {
            msg: sealed,
            aad: &aad,
        };
        let plain = (key.cipher.decrypt(&nonce.into(), payload))
            .map_err(|_| corrupt("the key does not open it here (another key, or a value copied from another row or column)"))?;
        String::from_utf8(plain).map_err(|_| corrupt("it opens to text that is not UTF-8"))
    }

    /// [`Sealing::open`] of an optional value.
    pub fn open_opt(
        &self,
        stored: Option<String>,
        place: Place<'_>,
    ) -> Result<Option<String>, StoreError> {
        stored.map(|s| self.open(s, place)).transpose()
    }

    /// Whether a stored value is sealed with the newest key, bound to its
    /// place (`v2:`), already (on a plain store: whether it is plain).
    pub fn is_current(&self, stored: &str) -> bool {
        let parts = sealed_parts(stored);
        match &self.keys {
            Some(keys) => {
                parts.is_some_and(|(format, id, _)| format == Format::V2 && id == keys.newest())
            }
            None => parts.is_none(),
        }
    }

    /// The lookup hashes of a stored enquiry's JSON (its `email` and `phone`),
    /// under the newest key.
    pub fn contact_hashes(&self, payload: &str) -> ContactHashes {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else {
            return ContactHashes::default();
        };
        let field = |name: &str| value.get(name).and_then(|v| v.as_str());
        let newest = self.newest_lookup_key();
        ContactHashes {
            email: field("email")
                .and_then(normal_email)
                .map(|e| hex::encode(hmac_sha256(newest, e.as_bytes()))),
            phone: field("phone")
                .and_then(normal_phone)
                .map(|p| hex::encode(hmac_sha256(newest, p.as_bytes()))),
        }
    }

    /// The search term of `normal` (already normalised) of `kind`, under
    /// the newest key: what an enquiry is stored with (see `search_terms`).
    pub(super) fn term(&self, kind: &str, normal: &str) -> String {
        hex::encode(hmac_sha256(
            self.newest_lookup_key(),
            &term_message(kind, normal),
        ))
    }

    /// Every term `normal` of `kind` may be stored under (each key's, and
    /// the plain one), as [`Sealing::email_lookups`] for the email hash.
    pub(super) fn term_lookups(&self, kind: &str, normal: &str) -> Vec<String> {
        self.lookups(&term_message(kind, normal))
    }

    /// Every hash `email` may be stored under (each key's, and the plain
    /// one: rows written before a key, or before `enquiries rekey`).
    pub fn email_lookups(&self, email: &str) -> Vec<String> {
        normal_email(email).map_or_else(Vec::new, |e| self.lookups(e.as_bytes()))
    }

    /// Every hash `phone` may be stored under (see [`Sealing::email_lookups`]).
    pub fn phone_lookups(&self, phone: &str) -> Vec<String> {
        normal_phone(phone).map_or_else(Vec::new, |p| self.lookups(p.as_bytes()))
    }

    fn lookups(&self, message: &[u8]) -> Vec<String> {
        let mut keys = self.lookup_keys();
        keys.push(PLAIN_LOOKUP_KEY);
        keys.into_iter()
            .map(|k| hex::encode(hmac_sha256(k, message)))
            .collect()
    }

    /// The key new hashes are made with: the newest key's, or the plain one.
    fn newest_lookup_key(&self) -> &[u8] {
        self.keys
            .as_ref()
            .map_or(PLAIN_LOOKUP_KEY, |keys| &keys.newest_key().lookup[..])
    }

    fn lookup_keys(&self) -> Vec<&[u8]> {
        self.keys.as_ref().map_or_else(Vec::new, |keys| {
            keys.keys.iter().map(|k| &k.lookup[..]).collect()
        })
    }
}

/// What a search term hashes: a fixed label, the kind and the value,
/// separated by NULs. A kind holds no NUL, so the message names its kind
/// unambiguously: a name word never hashes like an address or a number of
/// the same text, nor a term like the `email_hash` of the same address.
fn term_message(kind: &str, normal: &str) -> Vec<u8> {
    [&b"term\0"[..], kind.as_bytes(), b"\0", normal.as_bytes()].concat()
}

/// An address as looked up: trimmed, lower case.
pub(super) fn normal_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    email.contains('@').then_some(email)
}

/// A number as looked up: its national digits (the domain's normaliser).
pub(super) fn normal_phone(phone: &str) -> Option<String> {
    let digits = crate::domain::national_digits(phone);
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the values of these tests are stored.
    const P: Place<'static> = Place {
        table: "enquiries",
        column: "payload",
        row: "e1",
    };

    fn ring(text: &str) -> Sealing {
        Sealing::new(Some(KeyRing::parse(text).unwrap()))
    }

    fn line(id: &str) -> String {
        new_key_line(id).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_and_says_nothing() {
        let sealing = ring(&line("k1"));
        let a = sealing.seal("Zoë O'Brien", P).unwrap();
        let b = sealing.seal("Zoë O'Brien", P).unwrap();
        assert!(a.starts_with("v2:k1:"), "{a}");
        assert_ne!(a, b, "a random nonce per value");
        assert!(!a.contains("Brien"));
        assert_eq!(sealing.open(a, P).unwrap(), "Zoë O'Brien");
        assert_eq!(
            sealing.open("{\"plain\":1}".into(), P).unwrap(),
            "{\"plain\":1}"
        );
    }

    #[test]
    fn older_keys_open_and_the_first_seals() {
        let (a, b) = (line("a"), line("b"));
        let old = ring(&a).seal("x", P).unwrap();
        let both = ring(&format!("# rotated\n{b}\n\n{a}\n"));
        assert_eq!(both.open(old.clone(), P).unwrap(), "x");
        assert!(both.seal("x", P).unwrap().starts_with("v2:b:"));
        assert!(!both.is_current(&old));
        let only_b = ring(&b);
        let missing = only_b.open(old.clone(), P).unwrap_err();
        assert!(
            matches!(&missing, StoreError::SealedKeyMissing { key_id, key_file_set: true } if key_id == "a"),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("does not hold"), "{missing}");
        let plain = Sealing::default().open(old.clone(), P).unwrap_err();
        assert!(
            matches!(&plain, StoreError::SealedKeyMissing { key_id, key_file_set: false } if key_id == "a"),
            "a plain store does not show the ciphertext as text: {plain:?}"
        );
        assert!(plain.to_string().contains("is not set"), "{plain}");
        let body = old.rsplit_once(':').unwrap().1;
        for message in [missing.to_string(), plain.to_string()] {
            assert!(!message.contains(body), "{message}");
            assert!(!message.contains(a.split_once(':').unwrap().1), "{message}");
        }
    }

    #[test]
    fn text_that_only_starts_like_a_sealed_value_is_plain() {
        // Staff's words, CareHQ's hints: nothing stops them starting "v1:".
        let texts = [
            "v1: spam",
            "v1:spam",
            "v1:note:see the call",
            "v1:k:AAAA",
            "v1:Mrs O'Brien:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ];
        let (plain, keyed) = (Sealing::default(), ring(&line("k")));
        for text in texts {
            assert_eq!(plain.open(text.into(), P).unwrap(), text);
            assert_eq!(keyed.open(text.into(), P).unwrap(), text);
            assert!(plain.is_current(text), "{text}");
            assert!(!keyed.is_current(text), "rekey seals it: {text}");
        }
    }

    #[test]
    fn a_tampered_value_is_refused() {
        let sealing = ring(&line("k"));
        let sealed = sealing.seal("hello", P).unwrap();
        let (head, body) = sealed.rsplit_once(':').unwrap();
        let mut bytes = STANDARD.decode(body).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("{head}:{}", STANDARD.encode(bytes));
        let cut = sealed[..sealed.len() - 3].to_owned();
        let not_base64 = format!("{head}:{}={}", "A".repeat(20), "A".repeat(19));
        for broken in [altered, cut, not_base64] {
            let err = sealing.open(broken.clone(), P).unwrap_err();
            assert!(
                matches!(&err, StoreError::SealedCorrupt { key_id, .. } if key_id == "k"),
                "{broken}: {err:?}"
            );
            assert!(!err.to_string().contains(body), "{err}");
        }
        let other_key = ring(&line("k")).open(sealed, P).unwrap_err();
        assert!(
            matches!(other_key, StoreError::SealedCorrupt { .. }),
            "another key under the same id: {other_key:?}"
        );
    }

    #[test]
    fn bad_key_files_are_refused_without_echoing_keys() {
        let short = format!("k:{}", STANDARD.encode([7u8; 16]));
        let err = KeyRing::parse(&short).unwrap_err();
        assert!(err.contains("16 bytes"), "{err}");
        assert!(!err.contains(&STANDARD.encode([7u8; 16])), "{err}");
        assert!(KeyRing::parse("").is_err());
        assert!(KeyRing::parse("no colon here").is_err());
        assert!(KeyRing::parse("bad id!:AAAA").is_err());
        let twice = format!("{}\n{}", line("k"), line("k"));
        assert!(KeyRing::parse(&twice).unwrap_err().contains("twice"));
        let debug = format!("{:?}", KeyRing::parse(&line("k")).unwrap());
        assert_eq!(debug, "KeyRing { ids: [\"k\"], .. }");
    }

    #[test]
    fn lookups_find_the_hash_stored_under_any_key_or_none() {
        let payload = r#"{"email":" Zoe@Example.com","phone":"+44 1632 960123"}"#;
        let (a, b) = (line("a"), line("b"));
        let stored_plain = Sealing::default().contact_hashes(payload);
        let stored_a = ring(&a).contact_hashes(payload);
        let both = ring(&format!("{b}\n{a}"));
        for stored in [&stored_plain, &stored_a] {
            let email = stored.email.clone().unwrap();
            let phone = stored.phone.clone().unwrap();
            assert!(both.email_lookups("zoe@example.COM").contains(&email));
            assert!(both.phone_lookups("01632 960123").contains(&phone));
        }
        assert_ne!(stored_plain.email, stored_a.email, "keyed");
        assert!(
            !both
                .email_lookups("other@example.com")
                .contains(&stored_a.email.unwrap())
        );
    }

    /// T3-13: a sealed value carries its table, column and row; copied to
    /// another row or column it does not open. A `v1:` value (sealed before,
    /// without them) still opens anywhere, and is not current: rekey
    /// rewrites it as `v2:`.
    #[test]
    fn a_sealed_value_opens_only_where_it_was_stored() {
        let sealing = ring(&line("k"));
        let sealed = sealing.seal("Zoë O'Brien", P).unwrap();
        assert!(sealing.is_current(&sealed));
        for elsewhere in [
            Place::payload("e2"),
            Place::original_payload("e1"),
            Place::new("audit_log", "reason", "e1"),
        ] {
            let err = sealing.open(sealed.clone(), elsewhere).unwrap_err();
            assert!(
                matches!(&err, StoreError::SealedCorrupt { key_id, .. } if key_id == "k"),
                "{err:?}"
            );
        }
        let key = sealing.keys().unwrap().newest_key();
        let nonce = [7u8; NONCE_LEN];
        let body = key.cipher.encrypt(&nonce.into(), &b"old"[..]).unwrap();
        let v1 = format!("v1:k:{}", STANDARD.encode([&nonce[..], &body].concat()));
        assert_eq!(sealing.open(v1.clone(), P).unwrap(), "old");
        assert_eq!(
            sealing.open(v1.clone(), Place::payload("e2")).unwrap(),
            "old"
        );
        assert!(!sealing.is_current(&v1), "rekey rewrites it");
    }
}
