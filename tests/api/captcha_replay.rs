//! Single use across sites and instances: a token or ALTCHA solution spent
//! on one site is refused on another even with the same idempotency key, a
//! hosted token or ALTCHA solution spent on one instance is refused by
//! another on the same database, and an expired (but genuinely signed)
//! challenge is refused.

use enquiry_relay::captcha::{new_challenge, new_challenge_expiring};
use enquiry_relay::spam::unix_now;
use secrecy::SecretString;
use serde_json::json;

use crate::captcha::{
    HOST, another, app, app_on, assert_captcha_refused, captcha, cheap, post, solve,
};
use crate::fake_captcha::{FakeVerify, Reply};
use crate::helpers::{Db, SITE, TestApp, another_site, family, post_keyed};
use crate::on_both_databases;
use crate::spam::stored;

const OTHER: &str = "second-home";
const ALTCHA: &str = "[captcha]\nprovider = \"altcha\"\nsecret = \"altcha-key\"\n";

fn with_token(n: usize, field: &str, token: &str) -> serde_json::Value {
    let mut body = family(n);
    body[field] = json!(token);
    body
}

#[tokio::test]
async fn a_turnstile_token_and_key_spent_on_one_site_are_refused_on_another() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    let toml = captcha("turnstile", &fake.url, "") + &another_site(OTHER);
    let (db, _sandbox, app) = app(toml).await;
    let body = with_token(1, "cf-turnstile-response", "one-token");

    assert_eq!(post_keyed(&app, SITE, &body, "key-1").await.status(), 201);
    // The same token and key, posted to the second site: not a repeat of
    // the first post (keys are per site), so it must not pass unasked.
    assert_captcha_refused(
        post_keyed(&app, OTHER, &body, "key-1").await,
        "token and key reused on another site",
    )
    .await;
    assert_eq!(stored(&db).await.len(), 1, "no second enquiry");
    // The genuine repeat, on its own site, still gets the first answer.
    let again = post_keyed(&app, SITE, &body, "key-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    app.stop().await;
}

#[tokio::test]
async fn an_altcha_solution_and_key_spent_on_one_site_are_refused_on_another() {
    let (db, _sandbox, app) = app(format!("{ALTCHA}{}", another_site(OTHER))).await;
    let challenge = new_challenge(&SecretString::from("altcha-key"), cheap()).unwrap();
    let body = with_token(1, "altcha", &solve(&challenge));

    assert_eq!(post_keyed(&app, SITE, &body, "key-1").await.status(), 201);
    assert_captcha_refused(
        post_keyed(&app, OTHER, &body, "key-1").await,
        "solution and key reused on another site",
    )
    .await;
    assert_eq!(stored(&db).await.len(), 1);
    app.stop().await;
}

/// After `body` was posted with key "key-1" to another instance: the same
/// post through `second` gets the first answer; another post with its
/// `field` (another key, or none) is a replay.
async fn assert_single_use_on_another_instance(
    second: &TestApp,
    body: &serde_json::Value,
    field: &str,
) {
    let repeat = post_keyed(second, SITE, body, "key-1").await;
    assert_eq!(repeat.status(), 201);
    assert_eq!(repeat.headers()["idempotent-replayed"], "true");
    assert_captcha_refused(
        post_keyed(second, SITE, body, "key-2").await,
        "replayed on another instance",
    )
    .await;
    assert_captcha_refused(
        post(second, 2, field, body[field].as_str().unwrap()).await,
        "replayed without a key",
    )
    .await;
}

async fn an_altcha_solution_spent_on_one_instance_is_refused_by_another(db: Db) {
    let Some((db, _sandbox, first)) = app_on(db, ALTCHA.into()).await else {
        return;
    };
    let second = another(&db, ALTCHA.into()).await;
    let challenge = new_challenge(&SecretString::from("altcha-key"), cheap()).unwrap();
    let body = with_token(1, "altcha", &solve(&challenge));

    assert_eq!(post_keyed(&first, SITE, &body, "key-1").await.status(), 201);
    assert_single_use_on_another_instance(&second, &body, "altcha").await;
    assert_eq!(stored(&db).await.len(), 1);
    first.stop().await;
    second.stop().await;
}
on_both_databases!(an_altcha_solution_spent_on_one_instance_is_refused_by_another);

/// The fake provider passes every token, so only our own record of spent
/// tokens (in the shared database) can refuse the replay.
async fn a_turnstile_token_spent_on_one_instance_is_refused_by_another(db: Db) {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    let toml = captcha("turnstile", &fake.url, "");
    let Some((db, _sandbox, first)) = app_on(db, toml.clone()).await else {
        return;
    };
    let second = another(&db, toml).await;
    let body = with_token(1, "cf-turnstile-response", "shared-token");

    assert_eq!(post_keyed(&first, SITE, &body, "key-1").await.status(), 201);
    let asked = fake.calls().len();
    assert_single_use_on_another_instance(&second, &body, "cf-turnstile-response").await;
    assert_eq!(
        fake.calls().len(),
        asked,
        "neither the repeat nor the replays asked the provider again"
    );
    assert_eq!(stored(&db).await.len(), 1);
    first.stop().await;
    second.stop().await;
}
on_both_databases!(a_turnstile_token_spent_on_one_instance_is_refused_by_another);

#[tokio::test]
async fn a_genuinely_signed_but_expired_altcha_challenge_is_refused() {
    let (_db, _sandbox, app) = app(ALTCHA.into()).await;
    let secret = SecretString::from("altcha-key");
    let expired = new_challenge_expiring(&secret, cheap(), unix_now() - 60).unwrap();

    assert_captcha_refused(post(&app, 1, "altcha", &solve(&expired)).await, "expired").await;
    // The same key and difficulty with a future expiry passes: the refusal
    // above was the expiry, not the signature.
    let fresh = new_challenge_expiring(&secret, cheap(), unix_now() + 60).unwrap();
    assert_eq!(post(&app, 2, "altcha", &solve(&fresh)).await.status(), 201);
    app.stop().await;
}
