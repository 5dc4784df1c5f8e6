//! ALTCHA, self-hosted proof of work, with the official `altcha` crate (PoW
//! v2, spoken by the 3.x widget). We serve signed challenges at
//! `GET /altcha/challenge` and check solutions locally: no outbound call, so no
//! outage policy applies. Challenges carry their expiry and each is accepted
//! once (its nonce is remembered until then).

use std::time::{Duration, Instant};

use altcha::{
    Challenge, CreateChallengeOptions, Payload, VerifySolutionOptions, create_challenge,
    verify_solution,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use super::replay::SeenTokens;
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
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let span = difficulty
        .max_counter
        .saturating_sub(difficulty.min_counter)
        .max(1);
    let counter = difficulty.min_counter + u32::from_be_bytes(bytes) % span;
    let expires = unix_now() + difficulty.life.as_secs();
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

/// Check the widget's base64 payload and that its challenge was not used before.
pub fn verify(
    secret: &SecretString,
    payload: &str,
    seen: &SeenTokens,
    post_key: Option<&str>,
) -> Verdict {
    let Ok(json) = STANDARD.decode(payload.trim()) else {
        return Verdict::failed("altcha payload is not base64");
    };
    let Ok(payload) = serde_json::from_slice::<Payload>(&json) else {
        return Verdict::failed("altcha payload is not a solution");
    };
    let params = &payload.challenge.parameters;
    let now = unix_now();
    // Our challenges always expire; one without an expiry was not made here.
    let Some(remaining) = params
        .expires_at
        .and_then(|t| u64::try_from(t).ok())
        .and_then(|t| t.checked_sub(now))
    else {
        return Verdict::failed("altcha challenge expired or without expiry");
    };
    let mut options = VerifySolutionOptions::new(
        &payload.challenge,
        &payload.solution,
        secret.expose_secret().to_owned(),
    );
    options.hmac_key_signature_secret = Some(key_secret(secret));
    match verify_solution(options) {
        Ok(result) if result.verified => {}
        Ok(result) if result.expired => return Verdict::failed("altcha challenge expired"),
        Ok(_) => return Verdict::failed("altcha solution does not verify"),
        Err(e) => return Verdict::failed(format!("altcha solution unreadable: {e}")),
    }
    // Remember the signed nonce only after the signature checked out, so
    // junk cannot fill the store.
    if !seen.first_use(
        &params.nonce,
        post_key,
        Duration::from_secs(remaining + 1),
        Instant::now(),
    ) {
        return Verdict::failed("altcha challenge already used");
    }
    Verdict::Passed
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
    fn a_solution_passes_once_and_replay_is_refused() {
        let secret = SecretString::from("s3cret");
        let challenge = new_challenge(&secret, cheap()).unwrap();
        let payload = solved(&challenge);
        let seen = SeenTokens::default();
        assert_eq!(verify(&secret, &payload, &seen, None), Verdict::Passed);
        assert!(
            matches!(verify(&secret, &payload, &seen, None), Verdict::Failed { reason } if reason.contains("already used"))
        );
    }

    #[test]
    fn another_key_tampering_expiry_and_junk_fail() {
        let secret = SecretString::from("s3cret");
        let seen = SeenTokens::default();
        let challenge = new_challenge(&secret, cheap()).unwrap();
        let payload = solved(&challenge);
        assert!(matches!(
            verify(&SecretString::from("other"), &payload, &seen, None),
            Verdict::Failed { .. }
        ));
        // Edit the challenge after solving, as an attacker would.
        let edited = |edit: &dyn Fn(&mut Challenge)| {
            let mut p: Payload =
                serde_json::from_slice(&STANDARD.decode(&payload).unwrap()).unwrap();
            edit(&mut p.challenge);
            STANDARD.encode(serde_json::to_vec(&p).unwrap())
        };
        let expired = edited(&|c| c.parameters.expires_at = Some(1));
        assert!(matches!(
            verify(&secret, &expired, &seen, None),
            Verdict::Failed { .. }
        ));
        let longer =
            edited(&|c| c.parameters.expires_at = c.parameters.expires_at.map(|t| t + 3600));
        assert!(matches!(
            verify(&secret, &longer, &seen, None),
            Verdict::Failed { .. }
        ));
        // Still unused: the refusals above did not burn the genuine solution.
        assert_eq!(verify(&secret, &payload, &seen, None), Verdict::Passed);
        assert!(matches!(
            verify(&secret, "%%%", &seen, None),
            Verdict::Failed { .. }
        ));
        assert!(matches!(
            verify(&secret, "e30=", &seen, None),
            Verdict::Failed { .. }
        ));
    }
}
