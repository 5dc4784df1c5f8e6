//! Every CAPTCHA provider against a local fake verify endpoint: passes, each
//! documented error code, score, action, hostname, timeout, 5xx under each
//! `on_error` policy, a reused Turnstile token and a replayed ALTCHA solution.

use std::time::Duration;

use altcha::{Payload, SolveChallengeOptions, solve_challenge};
use base64::Engine;
use enquiry_relay::captcha::{AltchaDifficulty, new_challenge};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fake_captcha::{FakeVerify, Reply};
use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, family};
use crate::spam::stored;

/// The options of an app with `captcha_toml`, its public URL on [`HOST`]:
/// the host name the CAPTCHA must report (the request's own `Host` header
/// is never trusted).
pub fn options(captcha_toml: String) -> AppOptions {
    AppOptions::default()
        .config(captcha_toml)
        .config(format!("[server]\npublic_url = \"http://{HOST}\""))
}

/// The fixture for a CAPTCHA test on SQLite: [`options`] with `captcha_toml`.
pub async fn app(captcha_toml: String) -> (TestDb, TestSandbox, TestApp) {
    TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options(captcha_toml))
        .spawn_sqlite()
        .await
}

/// The same on a database of `kind` (`None`: that kind is not here).
pub async fn app_on(kind: Db, captcha_toml: String) -> Option<(TestDb, TestSandbox, TestApp)> {
    TestApp::builder(kind)
        .without_carehq()
        .options(options(captcha_toml))
        .spawn()
        .await
}

/// Another instance with `captcha_toml` on the database a test already has.
pub async fn another(db: &TestDb, captcha_toml: String) -> TestApp {
    TestApp::spawn(db, crate::helpers::NOWHERE, &options(captcha_toml)).await
}

pub fn captcha(provider: &str, url: &str, more: &str) -> String {
    format!(
        "[captcha]\nprovider = \"{provider}\"\nsite_key = \"site-key-1\"\nsecret = \"s3cret\"\n\
         verify_url = \"{url}\"\ntimeout = \"500ms\"\n{more}\n"
    )
}

pub async fn post(app: &TestApp, n: usize, field: &str, token: &str) -> reqwest::Response {
    let mut body = family(n);
    body[field] = json!(token);
    app.post_json(SITE, &body).await
}

pub async fn assert_captcha_refused(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 422, "{what}");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["fields"]["captcha"][0]
            .as_str()
            .unwrap_or_default()
            .contains("telephone the home"),
        "{what}: {body}"
    );
}

pub const HOST: &str = "127.0.0.1";

#[tokio::test]
async fn turnstile_passes_sends_ip_and_idempotency_key_and_a_reused_token_is_refused() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST, "action": "enquiry"}))).await;
    let (db, _sandbox, app) = app(captcha("turnstile", &fake.url, "action = \"enquiry\"")).await;
    let field = "cf-turnstile-response";

    assert_eq!(post(&app, 1, field, "tok-1").await.status(), 201);
    let call = &fake.calls()[0];
    assert_eq!(call.fields["secret"], "s3cret");
    assert_eq!(call.fields["response"], "tok-1");
    assert_eq!(call.fields["remoteip"], "127.0.0.1");
    assert_eq!(call.fields["idempotency_key"].len(), 36, "a UUID");
    assert!(
        call.content_type
            .starts_with("application/x-www-form-urlencoded")
    );

    // The same token again: refused by our own memory, the provider not asked.
    assert_captcha_refused(post(&app, 2, field, "tok-1").await, "reused token").await;
    assert_eq!(fake.calls().len(), 1);
    // A missing token is refused without a call either.
    assert_captcha_refused(app.post_json(SITE, &family(3)).await, "missing token").await;
    assert_eq!(fake.calls().len(), 1);

    for code in [
        "invalid-input-response",
        "timeout-or-duplicate",
        "missing-input-response",
    ] {
        fake.set(Reply::Fail(vec![code]));
        assert_captcha_refused(post(&app, 4, field, &format!("t-{code}")).await, code).await;
    }
    // Our keys wrong: never accepted, whatever on_error says.
    for code in [
        "invalid-input-secret",
        "missing-input-secret",
        "bad-request",
    ] {
        fake.set(Reply::Fail(vec![code]));
        let response = post(&app, 5, field, &format!("t-{code}")).await;
        assert_eq!(response.status(), 503, "{code}");
    }
    // The widget's action must match.
    fake.set(Reply::Pass(json!({"hostname": HOST, "action": "login"})));
    assert_captcha_refused(post(&app, 6, field, "tok-action").await, "wrong action").await;
    // Solved on someone else's site.
    fake.set(Reply::Pass(
        json!({"hostname": "evil.example", "action": "enquiry"}),
    ));
    assert_captcha_refused(post(&app, 7, field, "tok-host").await, "wrong hostname").await;
    assert_eq!(stored(&db).await.len(), 1, "only the first post was stored");
    app.stop().await;
}

#[tokio::test]
async fn recaptcha_v3_checks_score_action_and_hostname() {
    let fake = FakeVerify::start(Reply::Pass(
        json!({"hostname": HOST, "score": 0.9, "action": "enquiry"}),
    ))
    .await;
    let (_db, _sandbox, app) = app(captcha(
        "recaptcha",
        &fake.url,
        "action = \"enquiry\"\nmin_score = 0.5",
    ))
    .await;
    let field = "g-recaptcha-response";

    assert_eq!(post(&app, 1, field, "r-1").await.status(), 201);
    let call = &fake.calls()[0];
    assert_eq!(
        (
            call.fields["secret"].as_str(),
            call.fields["remoteip"].as_str()
        ),
        ("s3cret", "127.0.0.1")
    );
    assert!(
        !call.fields.contains_key("idempotency_key"),
        "Turnstile only"
    );

    fake.set(Reply::Pass(
        json!({"hostname": HOST, "score": 0.1, "action": "enquiry"}),
    ));
    assert_captcha_refused(post(&app, 2, field, "r-2").await, "low score").await;
    fake.set(Reply::Pass(
        json!({"hostname": HOST, "score": 0.9, "action": "signup"}),
    ));
    assert_captcha_refused(post(&app, 3, field, "r-3").await, "wrong action").await;
    fake.set(Reply::Pass(json!({"hostname": HOST, "score": 0.9})));
    assert_captcha_refused(post(&app, 4, field, "r-4").await, "no action").await;
    fake.set(Reply::Pass(
        json!({"hostname": "other.example", "score": 0.9, "action": "enquiry"}),
    ));
    assert_captcha_refused(post(&app, 5, field, "r-5").await, "wrong hostname").await;
    for code in [
        "invalid-input-response",
        "timeout-or-duplicate",
        "missing-input-response",
    ] {
        fake.set(Reply::Fail(vec![code]));
        assert_captcha_refused(post(&app, 6, field, &format!("r-{code}")).await, code).await;
    }
    for code in [
        "invalid-input-secret",
        "missing-input-secret",
        "bad-request",
    ] {
        fake.set(Reply::Fail(vec![code]));
        assert_eq!(
            post(&app, 7, field, &format!("r-{code}")).await.status(),
            503,
            "{code}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn recaptcha_v2_passes_without_score_or_action() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    let (db, _sandbox, app) = app(captcha("recaptcha", &fake.url, "")).await;
    assert_eq!(
        post(&app, 1, "g-recaptcha-response", "v2").await.status(),
        201
    );
    // Solved on someone else's site.
    fake.set(Reply::Pass(json!({"hostname": "evil.example"})));
    assert_captcha_refused(
        post(&app, 2, "g-recaptcha-response", "v2-host").await,
        "wrong hostname",
    )
    .await;
    assert_eq!(stored(&db).await.len(), 1);
    app.stop().await;
}

/// Review T3-17: a token solved on another website, posted with that
/// website's name in `Host`, is refused (old code: stored, 201, as the
/// request's own `Host` counted as one of ours).
#[tokio::test]
async fn a_host_header_naming_the_site_a_token_was_solved_on_does_not_pass() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": "evil.example"}))).await;
    let (db, _sandbox, app) = app(captcha("turnstile", &fake.url, "")).await;
    let mut body = family(1);
    body["cf-turnstile-response"] = json!("solved-elsewhere");
    let response = app
        .http
        .post(format!("{}/forms/{SITE}", app.address))
        .header("host", "evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_captcha_refused(response, "Host names the solving site").await;
    assert_eq!(fake.calls().len(), 1, "the provider was asked");
    assert!(stored(&db).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_provider_hears_the_client_address_forwarded_by_a_trusted_proxy() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    let options = AppOptions::default()
        .config(captcha("turnstile", &fake.url, ""))
        .loopback_proxy();
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let mut body = family(1);
    body["cf-turnstile-response"] = json!("forwarded");

    let response = app
        .http
        .post(format!("{}/forms/{SITE}", app.address))
        // The client wrote the left entry itself; the proxy appended the right one.
        .header("x-forwarded-for", "203.0.113.9, 198.51.100.7")
        .json(&body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(
        fake.calls()[0].fields["remoteip"],
        "198.51.100.7",
        "the family's address, not the proxy's (127.0.0.1) or the spoofable left entry"
    );
    app.stop().await;
}

#[tokio::test]
async fn hcaptcha_sends_the_sitekey_and_maps_each_error_code() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    let (_db, _sandbox, app) = app(captcha("hcaptcha", &fake.url, "")).await;
    let field = "h-captcha-response";

    // The widget's reCAPTCHA-compatible copy of the token is tolerated.
    let mut body = family(1);
    body[field] = json!("h-1");
    body["g-recaptcha-response"] = json!("h-1");
    assert_eq!(app.post_json(SITE, &body).await.status(), 201);
    let call = &fake.calls()[0];
    assert_eq!(call.fields["sitekey"], "site-key-1");
    assert_eq!(call.fields["remoteip"], "127.0.0.1");

    for code in [
        "invalid-input-response",
        "expired-input-response",
        "already-seen-response",
        "invalid-or-already-seen-response",
        "missing-input-response",
    ] {
        fake.set(Reply::Fail(vec![code]));
        assert_captcha_refused(post(&app, 2, field, &format!("h-{code}")).await, code).await;
    }
    for code in [
        "missing-input-secret",
        "invalid-input-secret",
        "sitekey-secret-mismatch",
        "not-using-dummy-passcode",
        "not-using-dummy-secret",
        "bad-request",
        // About the IP we sent, not the family's token: our mistake.
        "missing-remoteip",
        "invalid-remoteip",
    ] {
        fake.set(Reply::Fail(vec![code]));
        assert_eq!(
            post(&app, 3, field, &format!("h-{code}")).await.status(),
            503,
            "{code}"
        );
    }
    fake.set(Reply::Pass(json!({"hostname": "evil.example"})));
    assert_captcha_refused(post(&app, 4, field, "h-host").await, "wrong hostname").await;
    app.stop().await;
}

#[tokio::test]
async fn friendly_captcha_v2_uses_the_api_key_header_and_json() {
    let fake = FakeVerify::start(Reply::Pass(json!({
        "data": {"event_id": "e1", "challenge": {"timestamp": "2026-11-21T12:00:00Z", "origin": "http://127.0.0.1"}, "risk_intelligence": null},
        "unknown_new_field": 1
    })))
    .await;
    let (_db, _sandbox, app) = app(captcha("friendly", &fake.url, "")).await;
    let field = "frc-captcha-response";

    assert_eq!(post(&app, 1, field, "f-1").await.status(), 201);
    let call = &fake.calls()[0];
    assert_eq!(call.api_key.as_deref(), Some("s3cret"));
    assert!(call.content_type.starts_with("application/json"));
    assert_eq!(call.fields["response"], "f-1");
    assert_eq!(call.fields["sitekey"], "site-key-1");
    assert!(
        !call.fields.contains_key("secret"),
        "the key goes in the header only"
    );

    for code in ["response_invalid", "response_timeout", "response_duplicate"] {
        fake.set(Reply::FriendlyFail(200, code));
        assert_captcha_refused(post(&app, 2, field, &format!("f-{code}")).await, code).await;
    }
    for (status, code) in [
        (401, "auth_required"),
        (401, "auth_invalid"),
        (400, "sitekey_invalid"),
        (400, "bad_request"),
        (400, "response_missing"),
    ] {
        fake.set(Reply::FriendlyFail(status, code));
        assert_eq!(
            post(&app, 3, field, &format!("f-{code}")).await.status(),
            503,
            "{code}"
        );
    }
    fake.set(Reply::Pass(
        json!({"data": {"challenge": {"origin": "https://evil.example"}}}),
    ));
    assert_captcha_refused(post(&app, 4, field, "f-origin").await, "wrong origin").await;
    app.stop().await;
}

/// A provider outage (5xx, internal-error, a hang past the timeout) under each policy.
#[tokio::test]
async fn an_unreachable_provider_follows_on_error() {
    for (policy, expect) in [("accept", 201), ("hold", 201), ("reject", 503)] {
        for (what, reply) in [
            ("500", Reply::Status(500)),
            ("503", Reply::Status(503)),
            ("internal-error", Reply::Fail(vec!["internal-error"])),
            ("timeout", Reply::Hang),
        ] {
            let fake = FakeVerify::start(reply).await;
            let (db, _sandbox, app) = app(captcha(
                "turnstile",
                &fake.url,
                &format!("on_error = \"{policy}\""),
            ))
            .await;
            let response = post(&app, 1, "cf-turnstile-response", "t").await;
            assert_eq!(response.status(), expect, "{policy} / {what}");
            let rows = stored(&db).await;
            match policy {
                "reject" => {
                    let body: Value = response.json().await.unwrap();
                    assert!(
                        body["message"].as_str().unwrap().contains("try again"),
                        "{body}"
                    );
                    assert!(rows.is_empty(), "{what}");
                }
                _ => {
                    assert_eq!(rows.len(), 1, "{policy} / {what}");
                    assert_eq!(rows[0].0, "captcha_unverified");
                    assert_eq!(
                        rows[0].1 == "held",
                        policy == "hold",
                        "{policy} / {what}: {}",
                        rows[0].1
                    );
                }
            }
            app.stop().await;
        }
    }
}

#[tokio::test]
async fn a_site_can_override_the_global_captcha() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    // Globally Turnstile; this site uses hCaptcha with its own secret.
    let options = options(captcha("turnstile", &fake.url, ""))
        .site("[captcha]\nprovider = \"hcaptcha\"\nsecret = \"site-secret\"\n");
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    assert_eq!(post(&app, 1, "h-captcha-response", "h").await.status(), 201);
    assert_eq!(fake.calls()[0].fields["secret"], "site-secret");
    assert_eq!(fake.calls()[0].fields["sitekey"], "site-key-1", "inherited");
    app.stop().await;
}

pub fn cheap() -> AltchaDifficulty {
    AltchaDifficulty {
        cost: 1,
        min_counter: 1,
        max_counter: 50,
        life: Duration::from_secs(60),
    }
}

pub fn solve(challenge: &altcha::Challenge) -> String {
    let solution = solve_challenge(SolveChallengeOptions::new(challenge))
        .unwrap()
        .unwrap();
    let payload = Payload {
        challenge: challenge.clone(),
        solution,
    };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&payload).unwrap())
}

#[tokio::test]
async fn altcha_serves_challenges_and_a_replayed_solution_is_refused() {
    let (db, _sandbox, app) =
        app("[captcha]\nprovider = \"altcha\"\nsecret = \"altcha-key\"\n".into()).await;

    let served: Value = app
        .http
        .get(format!("{}/altcha/challenge", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(served["signature"].is_string(), "{served}");
    assert!(
        served["parameters"]["expiresAt"].as_i64().unwrap() > 0,
        "{served}"
    );

    // A challenge signed with the same key, made cheap for a debug build.
    let challenge = new_challenge(&SecretString::from("altcha-key"), cheap()).unwrap();
    let payload = solve(&challenge);
    assert_eq!(post(&app, 1, "altcha", &payload).await.status(), 201);
    assert_captcha_refused(post(&app, 2, "altcha", &payload).await, "replayed").await;

    let foreign = new_challenge(&SecretString::from("another-key"), cheap()).unwrap();
    assert_captcha_refused(post(&app, 3, "altcha", &solve(&foreign)).await, "other key").await;
    assert_captcha_refused(post(&app, 4, "altcha", "bm90IGpzb24=").await, "junk").await;
    assert_eq!(stored(&db).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_repeated_post_with_its_token_gets_the_first_answer_not_a_captcha_error() {
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    let (db, _sandbox, app) = app(captcha("turnstile", &fake.url, "")).await;
    let mut body = family(1);
    body["cf-turnstile-response"] = json!("double-click");
    let send = |key: &'static str| {
        app.http
            .post(format!("{}/forms/{SITE}", app.address))
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send("post-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let again = send("post-1").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    // Another post carrying the same token is still refused.
    assert_captcha_refused(send("post-2").await.unwrap(), "token from another post").await;
    assert_eq!(stored(&db).await.len(), 1);
    app.stop().await;
}
