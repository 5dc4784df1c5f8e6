//! ALTCHA, self-hosted proof of work, with the official `altcha` crate (PoW
//! v2, spoken by the 3.x widget). We serve signed challenges at
//! `GET /altcha/challenge` and check solutions locally: no outbound call, so no
//! outage policy applies. Challenges carry their expiry; each is accepted
//! once, which the caller enforces in the database (`Captcha::check`), so
//! every instance on one database refuses a replay.

use std::time::Duration;

use altcha::{
    Challenge, CreateChallengeOptions, Payload, VerifySolutionOptions, create_challenge,
    verify_solution,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use super::verdict::Verdict;
use crate::spam::unix_now;

/// How hard the puzzle is and how long it lasts.
#[derive(Clone, Copy, Debug)]
pub struct AltchaDifficulty {
    /// PBKDF2 iterations per attempt.
    pub cost: u32,
    /// The secret counter is drawn from `min_counter..=max_counter`; the
    /// browser tries about that many keys. Kept low because families use old phones.
    pub min_counter: u32,
    pub max_counter: u32,
    pub life: Duration,
}

impl Default for AltchaDifficulty {
    fn default() -> Self {
        AltchaDifficulty {
            cost: 1_000,
            min_counter: 1_000,
            max_counter: 5_000,
            life: Duration::from_secs(20 * 60),
        }
    }
}

/// The derived-key signing secret: distinct from the challenge key so the two
/// HMACs never share input space.
fn key_secret(secret: &SecretString) -> String {
    format!("{}|altcha-key", secret.expose_secret())
}

/// A new signed challenge (deterministic mode: we pick the counter and sign
/// the derived key, so verifying is one HMAC rather than a re-derivation).
pub fn new_challenge(
    secret: &SecretString,
    difficulty: AltchaDifficulty,
) -> Result<Challenge, String> {
    new_challenge_expiring(secret, difficulty, unix_now() + difficulty.life.as_secs())
}

/// As `new_challenge`, expiring at `expires` (Unix seconds) rather than
/// `life` from now: tests sign challenges that have already expired with it.
pub fn new_challenge_expiring(
    secret: &SecretString,
    difficulty: AltchaDifficulty,
    expires: u64,
) -> Result<Challenge, String> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let span = difficulty
        .max_counter
        .saturating_sub(difficulty.min_counter)
        .max(1);
    let counter = difficulty.min_counter + u32::from_be_bytes(bytes) % span;
    create_challenge(CreateChallengeOptions {
        cost: difficulty.cost,
        counter: Some(counter),
        expires_at: i64::try_from(expires).ok(),
        hmac_signature_secret: Some(secret.expose_secret().to_owned()),
        hmac_key_signature_secret: Some(key_secret(secret)),
        ..CreateChallengeOptions::default()
    })
    .map_err(|e| format!("creating an ALTCHA challenge: {e}"))
}

/// A solution whose signature and expiry checked out: what must now be
/// recorded as spent, and until when.
#[derive(Debug, PartialEq)]
pub struct Solved {
    /// The challenge's signed nonce: one per challenge.
    pub nonce: String,
    /// The challenge's own expiry (Unix seconds); no use remembering it longer.
    pub expires_at: u64,
}

/// Check the widget's base64 payload: our signature, not expired, solved.
/// Whether it was used before is the caller's question (see `Captcha::check`).
pub fn check(secret: &SecretString, payload: &str) -> Result<Solved, Verdict> {
    let Ok(json) = STANDARD.decode(payload.trim()) else {
        return Err(Verdict::failed("altcha payload is not base64"));
    };
    let Ok(payload) = serde_json::from_slice::<Payload>(&json) else {
        return Err(Verdict::failed("altcha payload is not a solution"));
    };
    let params = &payload.challenge.parameters;
    // Our challenges always expire; one without an expiry was not made here.
    let Some(expires_at) = params
        .expires_at
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > unix_now())
    else {
        return Err(Verdict::failed(
            "altcha challenge expired or without expiry",
        ));
    };
    let mut options = VerifySolutionOptions::new(
        &payload.challenge,
        &payload.solution,
        secret.expose_secret().to_owned(),
    );
    options.hmac_key_signature_secret = Some(key_secret(secret));
    match verify_solution(options) {
        Ok(result) if result.verified => Ok(Solved {
            nonce: params.nonce.clone(),
            expires_at,
        }),
        Ok(result) if result.expired => Err(Verdict::failed("altcha challenge expired")),
        Ok(_) => Err(Verdict::failed("altcha solution does not verify")),
        Err(e) => Err(Verdict::failed(format!("altcha solution unreadable: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use altcha::{SolveChallengeOptions, solve_challenge};

    fn cheap() -> AltchaDifficulty {
        AltchaDifficulty {
            cost: 1,
            min_counter: 1,
            max_counter: 50,
            life: Duration::from_secs(60),
        }
    }

    pub(crate) fn solved(challenge: &Challenge) -> String {
        let solution = solve_challenge(SolveChallengeOptions::new(challenge))
            .unwrap()
            .unwrap();
        let payload = Payload {
            challenge: challenge.clone(),
            solution,
        };
        STANDARD.encode(serde_json::to_vec(&payload).unwrap())
    }

    #[test]
    fn a_genuine_solution_checks_out_with_its_nonce_and_expiry() {
        let secret = SecretString::from("s3cret");
        let challenge = new_challenge(&secret, cheap()).unwrap();
        let solved = check(&secret, &solved(&challenge)).unwrap();
        assert_eq!(solved.nonce, challenge.parameters.nonce);
        assert!(solved.expires_at > unix_now());
    }

    #[test]
    fn another_key_tampering_expiry_and_junk_fail() {
        let secret = SecretString::from("s3cret");
        let challenge = new_challenge(&secret, cheap()).unwrap();
        let payload = solved(&challenge);
        assert!(check(&SecretString::from("other"), &payload).is_err());
        // Edit the challenge after solving, as an attacker would.
        let edited = |edit: &dyn Fn(&mut Challenge)| {
            let mut p: Payload =
                serde_json::from_slice(&STANDARD.decode(&payload).unwrap()).unwrap();
            edit(&mut p.challenge);
            STANDARD.encode(serde_json::to_vec(&p).unwrap())
        };
        let expired = edited(&|c| c.parameters.expires_at = Some(1));
        assert!(check(&secret, &expired).is_err());
        let longer =
            edited(&|c| c.parameters.expires_at = c.parameters.expires_at.map(|t| t + 3600));
        assert!(check(&secret, &longer).is_err());
        // Genuinely signed, but already expired.
        let past = new_challenge_expiring(&secret, cheap(), unix_now() - 60).unwrap();
        assert!(check(&secret, &solved(&past)).is_err());
        assert!(check(&secret, &payload).is_ok());
        assert!(check(&secret, "%%%").is_err());
        assert!(check(&secret, "e30=").is_err());
    }
}
